"""Pure, event-time detectors of rented, lent and sold accounts. No Kafka, Faust, network or clock."""
