"""Copy a weight file with its exposure head's spec changed (the v4 head without keep_input):

    python scripts/head_variant.py runs/head_v4/model.safetensors runs/head_v4/nokeep.safetensors keep_input=null
"""
import sys, json
from pathlib import Path
from mlsm.models.zoo import load_network
from mlsm.models.weights import save_weights, read_metadata
from mlsm.models.exposure import ExposureHead
from safetensors.torch import load_file
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
network, metadata = load_network(src)
tensors = load_file(str(src))
spec = dict(read_metadata(src)['exposure'])
for kv in sys.argv[3:]:
    k, v = kv.split('='); spec[k] = json.loads(v)
    if spec[k] is None: del spec[k]
head = ExposureHead.from_spec(spec, tensors['exposure_head.weight'])
save_weights(dst, network, metadata['arch'], metadata['config'], metadata['card'], exposure_head=head)
print(dst, head.spec())
