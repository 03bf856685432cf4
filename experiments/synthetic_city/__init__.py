"""A synthetic Zhengzhou-like city: public credit catalogue, a bank's loan book, a data card."""

from experiments.synthetic_city.city import generate_city

__all__ = ["generate_city"]
