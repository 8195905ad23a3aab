"""Writes a float32 copy of a GGUF: every tensor dequantized by the `gguf` package, metadata as
it is (file type ALL_F32). llama.cpp then runs without weight quantization, which is what
grlhf's float32 path computes: the side-by-side benchmark and the llama.cpp logit reference use
it. Offline tool, not part of the library.

    python scripts/gguf_f32_copy.py IN.gguf OUT.gguf      (needs: pip install gguf numpy)
"""
import os
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import dequantize


def main(source: str, target: str) -> None:
    reader = GGUFReader(source)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    tmp = target + ".tmp"
    writer = GGUFWriter(tmp, arch=arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        kind = field.types[0]
        if key == "general.file_type":
            writer.add_uint32(key, 0)  # LLAMA_FTYPE_ALL_F32
        elif kind == GGUFValueType.ARRAY:
            item = field.types[1]
            values = [bytes(field.parts[i]).decode() if item == GGUFValueType.STRING else field.parts[i].tolist()[0]
                      for i in field.data]
            writer.add_array(key, values)
        elif kind == GGUFValueType.STRING:
            writer.add_string(key, bytes(field.parts[field.data[0]]).decode())
        else:
            writer.add_key_value(key, field.parts[field.data[0]].tolist()[0], kind)
    for t in reader.tensors:
        values = dequantize(t.data, t.tensor_type).astype(np.float32)
        writer.add_tensor(t.name, values.reshape([int(n) for n in reversed(t.shape)]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
