"""fitelctl: site-to-site IPsec between FITELnet F220 routers and Sakura Cloud VPC routers."""

__version__ = "0.1.0"
