"""Real strongSwan in the lab: charons in network namespaces play both IKE peers.

``prerequisites`` says what the machine lacks; ``netns`` makes (and cleans up) the
namespaces and links; ``charon`` runs one charon in a namespace; ``translate`` turns an
F220's committed crypto config and a VPC router's settings into swanctl connections;
``referee`` runs one negotiation between the two and reports what really happened.

Nothing here is imported by the pure-Python lab: this mode needs root and strongSwan.
"""
