"""pbr: Troubled Families cohort identification, outcomes and payment-by-results claims."""

__version__ = "0.1.0"
