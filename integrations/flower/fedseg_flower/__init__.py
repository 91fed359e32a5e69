"""FedSeg's Flower app: a ServerApp running FedSeg's FedAvg or ELCFS on a Flower SuperLink, and a
reference Python ClientApp for mixed federations (docs/flower.md §5-6)."""
