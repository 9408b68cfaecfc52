"""The model images (kernel.bin, tables.bin, kernel_c.bin) are described once, in quantize/twin/images.py: the
writers pack that description, and the readers on a board get copies generated from it. A copy that drifts fails
here. No compiler or MicroPython needed."""

import struct

from tinyrnn.quantize.emit.micropython import c_image_bytes, tables_bytes
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.sources import MICROPYTHON_DIR
from tinyrnn.quantize.twin import images
from tinyrnn.quantize.twin.cells import TwinModel
import pytest

pytestmark = pytest.mark.fast

FIRMWARE = MICROPYTHON_DIR.parent


def test_committed_c_header_matches_the_description():
    committed = (FIRMWARE.parent / images.C_HEADER_PATH).read_text()
    assert committed == images.c_header(), "run: python -m tinyrnn.quantize.twin.images --update"


def test_committed_micropython_blocks_match_the_description():
    for relative in images.MICROPYTHON_PATHS:
        text = (FIRMWARE.parent / relative).read_text()
        assert images.generated_block(text) == images.micropython_block(), \
            f"{relative}: run python -m tinyrnn.quantize.twin.images --update"


def test_micropython_constants_equal_the_description():
    namespace = {}
    exec(images.micropython_block(), namespace)
    for prefix, record in (("KERNEL_BIN_HEADER", images.KERNEL_BIN_HEADER),
                           ("KERNEL_BIN_PRODUCT", images.KERNEL_BIN_PRODUCT),
                           ("TABLES_BIN_HEADER", images.TABLES_BIN_HEADER),
                           ("TABLES_BIN_TABLE", images.TABLES_BIN_TABLE),
                           ("C_IMAGE_HEADER", images.C_IMAGE_HEADER), ("C_IMAGE_PRODUCT", images.C_IMAGE_PRODUCT)):
        assert namespace[prefix] == record.format and namespace[prefix + "_SIZE"] == record.size
    for name in ("KERNEL_BIN_MAGIC", "KERNEL_BIN_FORMAT", "TABLES_BIN_MAGIC", "TABLES_BIN_FORMAT", "C_IMAGE_MAGIC",
                 "C_IMAGE_FORMAT", "KERNEL_SPEC_VERSION"):
        assert namespace[name] == getattr(images, name)


def test_c_offsets_follow_the_records():
    header = images.c_header()
    for prefix, record in (("TR_IMAGE_OFF_", images.C_IMAGE_HEADER), ("TR_IMAGE_PRODUCT_OFF_", images.C_IMAGE_PRODUCT)):
        packed = struct.pack(record.format, *[(b"\xff" * 16 if c.endswith("s") else 0) for _, c in record.fields])
        assert len(packed) == record.size
        for name, offset in record.offsets():
            assert f"#define {prefix}{name.upper()} {offset}\n" in header
    assert f"#define TR_IMAGE_HEADER_BYTES {images.C_IMAGE_HEADER.size}\n" in header


def test_writers_pack_the_described_records(tmp_path):
    params = TwinModel.from_artifact_dir(make_artifact(tmp_path / "m", cell="lstm", layers=2, units=8, n=2,
                                                       steps=4)).params
    fields = dict(zip((n for n, _ in images.KERNEL_BIN_HEADER.fields),
                      struct.unpack_from(images.KERNEL_BIN_HEADER.format, params.to_bytes())))
    assert (fields["magic"], fields["format"], fields["spec_version"]) == \
        (images.KERNEL_BIN_MAGIC, images.KERNEL_BIN_FORMAT, images.KERNEL_SPEC_VERSION)
    assert (fields["layers"], fields["input_dim"], fields["units"]) == (2, params.input_dim, 8)

    image = c_image_bytes(params)
    fields = dict(zip((n for n, _ in images.C_IMAGE_HEADER.fields),
                      struct.unpack_from(images.C_IMAGE_HEADER.format, image)))
    assert (fields["magic"], fields["total_bytes"], fields["products"]) == \
        (images.C_IMAGE_MAGIC, len(image), len(images.C_IMAGE_SLOTS) * 2 + 1)
    products = [struct.unpack_from(images.C_IMAGE_PRODUCT.format, image,
                                   images.C_IMAGE_HEADER.size + i * images.C_IMAGE_PRODUCT.size)
                for i in range(fields["products"])]
    assert all(p[4] % images.C_IMAGE_ALIGN == 0 and p[6] % images.C_IMAGE_ALIGN == 0 for p in products)

    tables = tables_bytes()
    magic, version, spec, count, _ = struct.unpack_from(images.TABLES_BIN_HEADER.format, tables)
    assert (magic, version, spec, count) == (images.TABLES_BIN_MAGIC, images.TABLES_BIN_FORMAT,
                                             images.KERNEL_SPEC_VERSION, 3)
