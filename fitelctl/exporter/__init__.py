"""``fitelctl exporter``: a Prometheus exporter over persistent device sessions."""
