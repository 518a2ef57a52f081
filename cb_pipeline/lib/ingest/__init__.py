"""The ingest engine: every feed goes through `ingest_feed`; feeds declare themselves as FeedSpecs.

Belongs here: the public names of the engine and the registry of implemented feeds (`FEEDS`;
adding a feed = writing `cb_pipeline/<feed>/feed.py` and listing it here). Does not: any logic.
"""

from .engine import (  # noqa: F401
    DeliveryReport,
    FeedIngestReport,
    PseudonymisationKeyMissing,
    delivery_run_date,
    ingest_feed,
    list_deliveries,
)
from .reader import DeliveryRejected  # noqa: F401
from .spec import Column, Context, FeedSpec, Rule  # noqa: F401


def _registry() -> dict[str, FeedSpec]:
    from cb_pipeline.ambulance.feed import SPEC as AMBULANCE
    from cb_pipeline.dtoc.feed import SPEC as DTOC
    from cb_pipeline.finance.feed import SPEC as FINANCE
    from cb_pipeline.hes_ae.feed import SPEC as HES_AE
    from cb_pipeline.hes_apc.feed import SPEC as HES_APC
    from cb_pipeline.plan.feed import SPEC as PLAN
    from cb_pipeline.population.feed import SPEC as POPULATION
    from cb_pipeline.social_care.feed import SPEC as SOCIAL_CARE

    # feeds.md's order (the order of the landing zone's folders).
    return {s.name: s for s in (HES_APC, HES_AE, AMBULANCE, SOCIAL_CARE, DTOC, POPULATION, FINANCE, PLAN)}


FEEDS: dict[str, FeedSpec] = _registry()
