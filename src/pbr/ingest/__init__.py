"""Reading a delivery: discover contract files, read them as text, type and validate each row."""

from .discover import DeliveryFile, discover
from .parse import ParsedFile, parse_file

__all__ = ["DeliveryFile", "discover", "ParsedFile", "parse_file"]
