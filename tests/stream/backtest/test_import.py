"""``mulewatch import``: mapping by file and by flags, step times, rejects, order, labels, determinism,
and the shipped AMLSim mapping, all on small CSVs written here (never the AMLSim samples themselves)."""

from __future__ import annotations

import csv
import gzip
import io
import tarfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

import schemas
from stream.backtest.evaluation.metrics import read_labels
from stream.cli import main

BANK_CSV = """\
txn_id,booked_at,payer,payer_cust,payee,payee_bic,amount,ccy,chan
T1,2026-03-01T08:00:00+01:00,DE01,C1,DE02,,"1,234.50",eur,WEB
T2,2026-03-01T09:00:00+01:00,DE02,C2,FR77,BNPAFRPP,20.00,EUR,MOB
T3,2026-03-01T09:30:00+01:00,DE03,,DE01,OWNBANKX,5,EUR,
"""

BANK_MAPPING = """\
[payments]
own_bank_id = "OWNBANKX"
thousands_separator = ","

[payments.columns]
event_id = "txn_id"
event_time = "booked_at"
debtor_account = "payer"
debtor_customer = "payer_cust"
creditor_account = "payee"
creditor_bank = "payee_bic"
amount = "amount"
currency = "ccy"
channel = "chan"

[payments.values.channel]
WEB = "online"
MOB = "mobile"
"""

BANK_FLAGS = [
    "--column", "event_id=txn_id", "--column", "event_time=booked_at", "--column", "debtor_account=payer",
    "--column", "debtor_customer=payer_cust", "--column", "creditor_account=payee", "--column", "creditor_bank=payee_bic",
    "--column", "amount=amount", "--column", "currency=ccy", "--column", "channel=chan",
    "--set", "payments.own_bank_id=OWNBANKX", "--set", "payments.thousands_separator=,",
    "--set", "payments.values.channel.WEB=online", "--set", "payments.values.channel.MOB=mobile",
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def events_of(path: Path) -> list[schemas.Payment]:
    return [schemas.parse_event(line) for line in path.read_bytes().splitlines()]


def rejects_of(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_mapping_by_file_and_by_flags_give_the_same_events(tmp_path, capsys):
    source = write(tmp_path / "export.csv", BANK_CSV)
    mapping = write(tmp_path / "bank.toml", BANK_MAPPING)
    by_file, by_flags = tmp_path / "file.jsonl", tmp_path / "flags.jsonl"
    assert main(["import", str(source), "--mapping", str(mapping), "--out", str(by_file)]) == 0
    assert main(["import", str(source), *BANK_FLAGS, "--out", str(by_flags)]) == 0
    assert by_file.read_bytes() == by_flags.read_bytes()

    t1, t2, t3 = events_of(by_file)
    assert [e.event_id for e in (t1, t2, t3)] == ["T1", "T2", "T3"]
    assert t1.event_time == datetime(2026, 3, 1, 7, tzinfo=timezone.utc)
    assert t1.amount == Decimal("1234.50") and t1.currency == "EUR"  # thousands separator dropped, code upper-cased
    assert t1.debtor.customer_id == "C1" and t1.creditor.bank_id is None  # empty bank column: own bank
    assert (t1.channel, t2.channel, t3.channel) == ("online", "mobile", "online")  # value map; empty: default
    assert t2.creditor.bank_id == "BNPAFRPP"
    assert t3.creditor.bank_id is None  # the bank's own id means own bank
    assert t3.debtor.customer_id is None and t3.method == "transfer"
    assert "3 rows, 3 events written, 0 rejects" in capsys.readouterr().err


def test_flags_override_the_mapping_file(tmp_path):
    source = write(tmp_path / "export.csv", BANK_CSV.replace("booked_at", "booked").replace("+01:00", ""))
    mapping = write(tmp_path / "bank.toml", BANK_MAPPING.replace('currency = "ccy"\n', ""
                                                                 ).replace('[payments.columns]', '[payments.constants]\ncurrency = "EUR"\n\n[payments.columns]'))
    out = tmp_path / "out.jsonl"
    assert main(["import", str(source), "--mapping", str(mapping), "--out", str(out), "--const", "currency=CHF",
                 "--column", "event_time=booked", "--set", "time.format=%Y-%m-%dT%H:%M:%S",
                 "--set", "time.timezone=Europe/Zurich", "--const", "method=wallet"]) == 0
    events = events_of(out)
    assert {e.currency for e in events} == {"CHF"}
    assert {e.method for e in events} == {"wallet"}
    assert events[0].event_time == datetime(2026, 3, 1, 7, tzinfo=timezone.utc)  # 08:00 in Zurich in March


def test_step_rows_are_spread_evenly_over_their_step_in_file_order(tmp_path, capsys):
    source = write(tmp_path / "steps.csv", "src,dst,amt,step\n"
                                           "a,b,1,2\n"    # step 2 first: the file is not in time order
                                           "a,c,2,1\n"
                                           "b,c,3,1\n"
                                           "c,a,x,1\n"    # rejected, but keeps its slot in step 1
                                           "c,b,4,1\n")
    out = tmp_path / "out.jsonl"
    assert main(["import", str(source), "--out", str(out), "--column", "debtor_account=src",
                 "--column", "creditor_account=dst", "--column", "amount=amt", "--column", "step=step",
                 "--const", "currency=EUR", "--step-start", "2026-02-01T00:00:00Z", "--set", "time.step_seconds=3600"]) == 0
    events = events_of(out)
    start = datetime(2026, 2, 1, tzinfo=timezone.utc)
    assert [(e.debtor.account_id, e.creditor.account_id, e.event_time - start) for e in events] == [
        ("a", "c", timedelta(hours=1)),
        ("b", "c", timedelta(hours=1, minutes=15)),
        ("c", "b", timedelta(hours=1, minutes=45)),
        ("a", "b", timedelta(hours=2)),
    ]
    assert [e.event_id for e in events] == ["steps.csv:3", "steps.csv:4", "steps.csv:6", "steps.csv:2"]
    err = capsys.readouterr().err
    assert "sorted in memory" in err and "bad_amount 1" in err
    replay_rejects = tmp_path / "replay.rejects.jsonl"
    assert main(["replay", str(out), "--parse-only", "--rejects", str(replay_rejects)]) == 0  # refuses unordered input
    assert not replay_rejects.exists()


def test_bad_rows_go_to_the_rejects_file_with_line_and_reason(tmp_path, capsys):
    source = write(tmp_path / "bad.csv", (
        "id,ts,from,to,amount,ccy,channel,memo\n"
        "1,2026-03-01T10:00:00Z,A,B,10.00,EUR,online,\"two\nlines\"\n"  # lines 2-3
        "2,2026-03-01T10:01:00Z,A,B,abc,EUR,online,\n"                   # 4
        "3,2026-03-01T10:02:00Z,A,B,-5,EUR,online,\n"                    # 5
        "4,2026-03-01T10:03:00Z,A,B,0,EUR,online,\n"                     # 6
        "5,yesterday,A,B,1,EUR,online,\n"                                # 7
        "6,2026-03-01T10:05:00,A,B,1,EUR,online,\n"                      # 8: no timezone
        "7,2026-03-01T10:06:00Z,A,B,1,EUR,telepathy,\n"                  # 9
        "8,2026-03-01T10:07:00Z,A X,B,1,EUR,online,\n"                   # 10
        "9,2026-03-01T10:08:00Z,A,B,1.00001,EUR,online,\n"               # 11
        "1,2026-03-01T10:09:00Z,A,B,1,EUR,online,\n"                     # 12: id 1 again
        "10,2026-03-01T10:10:00Z,A,B\n"                                  # 13
        "11,2026-03-01T10:11:00Z,,B,1,EUR,online,\n"                     # 14
        "12,2026-03-01T10:12:00Z,A,B,1,EUR,online,,extra\n"              # 15
        "13,2026-03-01T10:13:00Z,A,B,1,EURO,online,\n"                   # 16
        "\n"
        "14,2026-03-01T10:14:00Z,A,\"B\",2,EUR,online,\n"                # 18
    ))
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    assert main(["import", str(source), "--out", str(out), "--rejects", str(rejects), "--column", "event_id=id",
                 "--column", "event_time=ts", "--column", "debtor_account=from", "--column", "creditor_account=to",
                 "--column", "amount=amount", "--column", "currency=ccy", "--column", "channel=channel"]) == 0
    assert [e.event_id for e in events_of(out)] == ["1", "14"]
    found = rejects_of(rejects)
    assert [(r["line"], r["reason"]) for r in found] == [
        (4, "bad_amount"), (5, "non_positive_amount"), (6, "non_positive_amount"), (7, "bad_time"), (8, "bad_time"),
        (9, "unknown_value"), (10, "schema_violation"), (11, "schema_violation"), (12, "duplicate_event_id"),
        (13, "missing_column"), (14, "missing_value"), (15, "extra_column"), (16, "schema_violation"),
    ]
    detail = {r["line"]: r["detail"] for r in found}
    assert "no timezone" in detail[8]
    assert detail[10].startswith("payment.debtor.account_id:")
    assert detail[11].startswith("payment.amount:")
    assert detail[12] == "event_id '1' already imported from line 2"
    assert detail[13].endswith("no value for column 'amount'")
    assert detail[16].startswith("payment.currency:")
    assert found[0]["row"] == ["2", "2026-03-01T10:01:00Z", "A", "B", "abc", "EUR", "online", ""]
    assert {r["file"] for r in found} == {"bad.csv"}
    err = capsys.readouterr().err
    assert "15 rows, 2 events written, 13 rejects" in err  # a record over two lines is one row
    assert "non_positive_amount 2" in err and "schema_violation 3" in err


def test_a_gzip_export_is_read_and_undecodable_bytes_are_a_reject(tmp_path):
    source = tmp_path / "export.csv.gz"
    source.write_bytes(gzip.compress(b"a,b,amt,t\n"
                                     b"x,y,1,2026-01-01T00:00:00Z\n"
                                     b"x,\xff\xfe,2,2026-01-01T00:00:01Z\n"
                                     b"y,x,3,2026-01-01T00:00:02Z\n"))
    out = tmp_path / "out.jsonl"
    assert main(["import", str(source), "--out", str(out), "--column", "debtor_account=a", "--column", "creditor_account=b",
                 "--column", "amount=amt", "--column", "event_time=t", "--const", "currency=EUR"]) == 0
    assert [e.amount for e in events_of(out)] == [Decimal("1"), Decimal("3")]
    (reject,) = rejects_of(Path(f"{out}.rejects.jsonl"))
    assert (reject["line"], reject["reason"], reject["row"][1]) == (3, "undecodable", "\ufffd\ufffd")


def test_a_clean_run_leaves_no_stale_rejects(tmp_path):
    source = write(tmp_path / "export.csv", BANK_CSV)
    mapping = write(tmp_path / "bank.toml", BANK_MAPPING)
    out = tmp_path / "out.jsonl"
    stale = write(tmp_path / "out.jsonl.rejects.jsonl", '{"line": 9, "reason": "bad_time"}\n')
    assert main(["import", str(source), "--mapping", str(mapping), "--out", str(out)]) == 0
    assert stale.read_bytes() == b""


LABELS_MAPPING = BANK_MAPPING + """
[time]
step_start = 2026-03-01T00:00:00Z

[labels]
delimiter = ";"
misused_values = ["MULE"]
clean_values = ["OK"]

[labels.columns]
account = "acct"
label = "flag"
typology = "kind"
misuse_step = "since"
"""


def test_labels_are_converted_and_completed_from_the_payments(tmp_path, capsys):
    source = write(tmp_path / "export.csv", BANK_CSV + "T4,2026-03-02T10:00:00Z,DE05,,DE02,,7,EUR,WEB\n")
    mapping = write(tmp_path / "bank.toml", LABELS_MAPPING)
    bank_labels = write(tmp_path / "cases.csv", "acct;flag;kind;since\n"
                                                "DE01;MULE;collection_account;3\n"
                                                "DE02;OK;;\n"
                                                "ZZ9;MULE;;-1\n"
                                                "DE03;maybe;;\n"      # neither value: rejected, DE03 stays unlabelled
                                                "DE01;OK;;\n")        # duplicate: rejected
    out, labels = tmp_path / "events.jsonl", tmp_path / "labels.csv"
    assert main(["import", str(source), "--mapping", str(mapping), "--out", str(out), "--labels", str(labels),
                 "--labels-from", str(bank_labels)]) == 0
    with open(labels, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["account_id", "label", "typology", "misuse_start"],
        ["DE01", "1", "collection_account", "2026-03-04T00:00:00+00:00"],
        ["DE02", "0", "", ""],
        ["ZZ9", "1", "", ""],
        ["DE05", "0", "", ""],  # own account of the payments, absent from the labels; FR77 (other bank) gets none
    ]
    assert set(read_labels(labels)) == {"DE01", "DE02", "ZZ9", "DE05"}  # what evaluate reads
    assert [(r["file"], r["line"], r["reason"]) for r in rejects_of(Path(f"{out}.rejects.jsonl"))] == [
        ("cases.csv", 5, "bad_label"), ("cases.csv", 6, "duplicate_account")]
    err = capsys.readouterr().err
    assert "4 accounts labelled (2 misused, 1 from the payments as label 0)" in err
    assert "1 accounts left unlabelled" in err


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_same_input_gives_the_same_bytes(tmp_path, name):
    source = write(tmp_path / "export.csv", BANK_CSV)
    mapping = write(tmp_path / "bank.toml", BANK_MAPPING)
    outputs = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        out = tmp_path / run / name
        assert main(["import", str(source), "--mapping", str(mapping), "--out", str(out)]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0]
    if name.endswith(".gz"):  # gzip without a file name (flag byte 3) or a time (bytes 4-7) in its header
        assert outputs[0][:2] == b"\x1f\x8b" and outputs[0][3] == 0 and outputs[0][4:8] == bytes(4)


AMLSIM_TRANSACTIONS = """\
sourceNodeId,targetNodeId,value,time\r
0,1,100.50,1\r
1,2,99.00,1\r
3,0,10.00,1\r
2,0,50.25,2\r
"""
AMLSIM_NODES = """\
nodeid,isFraud,init_balance,fraudStep\r
0,1,100.00,2\r
1,1,100.00,-1\r
2,0,100.00,-1\r
3,0,50.00,-1\r
"""


def amlsim_archive(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in (("metadata.txt", "nodes: 4\n"), ("transactions.csv", AMLSIM_TRANSACTIONS),
                           ("nodes.csv", AMLSIM_NODES)):
            data = text.encode()
            info = tarfile.TarInfo(f"tiny/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_amlsim_mapping_on_a_tiny_archive_of_the_amlsim_shape(tmp_path):
    archive = amlsim_archive(tmp_path / "tiny.tgz")
    out, labels = tmp_path / "events.jsonl", tmp_path / "labels.csv"
    assert main(["import", str(archive), "--mapping", "amlsim", "--label-const", "typology=fan_in",
                 "--out", str(out), "--labels", str(labels)]) == 0
    events = events_of(out)
    day = datetime(2026, 1, 2, tzinfo=timezone.utc)  # step 1 = start + 1 day
    assert [(e.debtor.account_id, e.creditor.account_id, e.amount, e.event_time) for e in events] == [
        ("0", "1", Decimal("100.50"), day),
        ("1", "2", Decimal("99.00"), day + timedelta(hours=8)),
        ("3", "0", Decimal("10.00"), day + timedelta(hours=16)),
        ("2", "0", Decimal("50.25"), day + timedelta(days=1)),
    ]
    assert all(e.debtor.bank_id is None and e.creditor.bank_id is None for e in events)
    assert {(e.currency, e.channel, e.method) for e in events} == {("EUR", "online", "transfer")}
    assert events[0].event_id == "tiny.tgz/tiny/transactions.csv:2"
    assert labels.read_text(encoding="utf-8").splitlines() == [
        "account_id,label,typology,misuse_start",
        "0,1,fan_in,2026-01-03T00:00:00+00:00",
        "1,1,fan_in,",
        "2,0,,",
        "3,0,,",
    ]


def test_amlsim_from_extracted_csvs_matches_the_archive(tmp_path):
    archive = amlsim_archive(tmp_path / "tiny.tgz")
    from_archive, from_files = tmp_path / "a", tmp_path / "b"
    assert main(["import", str(archive), "--mapping", "amlsim", "--out", str(from_archive / "e.jsonl"),
                 "--labels", str(from_archive / "l.csv"), "--const", "currency=USD"]) == 0
    transactions = write(tmp_path / "transactions.csv", AMLSIM_TRANSACTIONS)
    nodes = write(tmp_path / "nodes.csv", AMLSIM_NODES)
    assert main(["import", str(transactions), "--mapping", "amlsim", "--out", str(from_files / "e.jsonl"),
                 "--labels", str(from_files / "l.csv"), "--labels-from", str(nodes), "--const", "currency=USD"]) == 0
    assert (from_archive / "l.csv").read_bytes() == (from_files / "l.csv").read_bytes()

    def without_ids(path: Path) -> list[dict]:
        return [e.model_dump(exclude={"event_id"}) for e in events_of(path)]

    assert without_ids(from_archive / "e.jsonl") == without_ids(from_files / "e.jsonl")
    assert {e.currency for e in events_of(from_files / "e.jsonl")} == {"USD"}


def test_unusable_input_stops_with_one_line_and_writes_nothing(tmp_path, capsys):
    source = write(tmp_path / "export.csv", BANK_CSV)
    out = tmp_path / "out.jsonl"

    assert main(["import", str(tmp_path / "missing.csv"), "--mapping", "amlsim", "--out", str(out)]) == 1
    assert "missing.csv: no such file" in capsys.readouterr().err

    assert main(["import", str(source), "--mapping", "amlsim", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no column 'sourceNodeId' (payments.columns.debtor_account)" in err and "txn_id, booked_at" in err

    typo = write(tmp_path / "typo.toml", BANK_MAPPING.replace("debtor_customer", "debtor_custmer"))
    assert main(["import", str(source), "--mapping", str(typo), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"import: {typo}: payments.columns.debtor_custmer: unknown key"

    assert main(["import", str(source), "--mapping", "amlsim", "--const", "amount=5", "--out", str(out)]) == 2
    assert "--const amount: not a field of [payments.constants]" in capsys.readouterr().err
    assert not out.exists()
