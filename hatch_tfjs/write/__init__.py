"""Write stage: ``model.json`` + binary weight shards, deterministic and atomic."""

from hatch_tfjs.write.atomic import replace_directory
from hatch_tfjs.write.shards import WeightEntry, write_weight_shards
from hatch_tfjs.write.model_json import dump_model_json, layers_model_json

__all__ = ["WeightEntry", "dump_model_json", "layers_model_json", "replace_directory", "write_weight_shards"]
