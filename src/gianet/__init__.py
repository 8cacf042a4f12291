"""gianet: a reproduction of GIA-Net (Meng, Xu, Ho; ECCV 2020) for low-light raw imaging."""

__version__ = "0.1.0"
