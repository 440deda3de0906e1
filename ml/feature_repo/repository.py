"""The repository as the feast CLI sees it: ``feast -c ml/feature_repo plan|apply`` imports every
module here and collects its Feast objects, so this one defines them for the settings' lake. The
pipeline never imports it (``ml.feature_store.apply`` builds ``definitions.objects`` for its lake)."""

from ml.feature_repo.definitions import objects
from unmogrowp.config import load_settings

globals().update({f"{type(o).__name__.lower()}_{o.name}": o for o in objects(load_settings().lake_uri)})
