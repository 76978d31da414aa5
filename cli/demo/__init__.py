"""A demo world made by our own code: a fictional product's docs and its assistant's traffic."""

from cli.demo.corpus import PRODUCTS, Doc, build_corpus
from cli.demo.traffic import DemoPlan, generate_traffic

__all__ = ["PRODUCTS", "DemoPlan", "Doc", "build_corpus", "generate_traffic"]
