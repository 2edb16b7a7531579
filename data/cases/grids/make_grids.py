#!/usr/bin/env python3
"""Writes the small synthetic GeoTIFF / ESRI ASCII fixtures used by `bmu`'s raster and population tests.

Every value comes from numpy's PCG64 generator seeded with SEED, so re-running the script reproduces the same arrays
(the TIFF bytes may differ between GDAL versions; the decoded values do not). `expected.json` records, for each file,
its layout, georeferencing, CRS and the exact array written, so the Rust tests can check a read-back cell for cell.

usage: python3 -m venv /tmp/bmu-gridgen && /tmp/bmu-gridgen/bin/pip install rasterio numpy
       /tmp/bmu-gridgen/bin/python data/cases/grids/make_grids.py
"""
import json
import os
import numpy as np
import rasterio
from rasterio.transform import Affine

SEED = 20240601
HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 40, 30

rng = np.random.default_rng(SEED)
# People per cell: mostly sparse, a few dense blocks, some empty cells — like a suburban town's 100 m grid.
base = rng.gamma(0.6, 40.0, size=(H, W))
base[rng.random((H, W)) < 0.1] = 0.0
base[8:14, 20:27] += rng.uniform(200, 900, size=(6, 7))
ints = np.floor(base).astype(np.int64)  # 0 .. ~1200, fits every integer type used below except u8
frac = base.astype(np.float32)  # exactly representable in float32 and float64
nodata_mask = np.zeros((H, W), dtype=bool)
nodata_mask[0, :5] = True
nodata_mask[29, 35:] = True
nodata_mask[rng.random((H, W)) < 0.03] = True

UTM51N = "EPSG:32651"
utm_transform = Affine(100.0, 0.0, 340000.0, 0.0, -100.0, 3460000.0)  # near Shanghai, 100 m cells
ARC3 = 1.0 / 1200.0  # WorldPop 3 arc-seconds
wp_transform = Affine(ARC3, 0.0, 121.40, 0.0, -ARC3, 31.25)
moll_transform = Affine(100.0, 0.0, 11_650_000.0, 0.0, -100.0, 3_700_000.0)
MOLL_WKT = ('PROJCS["World_Mollweide",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
            'PRIMEM["Greenwich",0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mollweide"],'
            'PARAMETER["central_meridian",0],PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
            'UNIT["metre",1],AUTHORITY["ESRI","54009"]]')

expected = {"seed": SEED, "width": W, "height": H, "arrays": {}, "files": {}}


def array_id(values):
    """Identical arrays are stored once in expected.json, under a short name, and referenced by each file."""
    values = [float(v) for v in values.astype(np.float64).ravel()]
    for key, known in expected["arrays"].items():
        if known == values:
            return key
    key = f"a{len(expected['arrays'])}"
    expected["arrays"][key] = values
    return key


def layout_opts(layout):
    if layout == "strip":
        return {"tiled": False}
    if layout == "strip1":
        return {"tiled": False, "blockysize": 1}
    size = int(layout.removeprefix("tile"))
    return {"tiled": True, "blockxsize": size, "blockysize": size}


def write(name, array, dtype, layout, compress, *, nodata=None, crs=UTM51N, transform=utm_transform,
          predictor=None, expect_crs=None, note=""):
    opts = layout_opts(layout)
    if compress != "none":
        opts["compress"] = compress
    if predictor:
        opts["predictor"] = predictor
    path = os.path.join(HERE, name)
    data = array.astype(dtype)
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1, dtype=dtype, crs=crs,
                       transform=transform, nodata=nodata, **opts) as dst:
        dst.write(data, 1)
    valid = data if nodata is None else np.where(data == np.array(nodata, dtype=dtype), 0, data)
    expected["files"][name] = {
        "dtype": dtype, "layout": layout, "compress": compress, "predictor": predictor or 1,
        "nodata": nodata, "crs": expect_crs or crs,
        "transform": [transform.c, transform.a, transform.f, transform.e],
        "sum": float(valid.astype(np.float64).sum()),
        "nodata_cells": int((data == np.array(nodata, dtype=dtype)).sum()) if nodata is not None else 0,
        "array": array_id(data),
        "note": note,
    }


def with_nodata(array, value):
    out = array.astype(np.float64).copy()
    out[nodata_mask] = value
    return out


write("f32_strip_none.tif", frac, "float32", "strip", "none")
write("f32_strip1_lzw_pred3.tif", frac, "float32", "strip1", "lzw", predictor=3)
write("f32_tile256_lzw_nodata.tif", with_nodata(frac, -3.4028234663852886e38), "float32", "tile256", "lzw",
      nodata=-3.4028234663852886e38, note="one 256x256 tile, mostly padding")
write("f64_strip_deflate.tif", base, "float64", "strip", "deflate")
write("f64_tile16_packbits_nodata.tif", with_nodata(base, -1.0), "float64", "tile16", "packbits", nodata=-1.0)
write("i16_tile16_deflate.tif", ints, "int16", "tile16", "deflate")
write("i16_strip_lzw_pred2_nodata.tif", with_nodata(ints, -32768), "int16", "strip", "lzw", predictor=2,
      nodata=-32768)
write("u16_tile16_packbits.tif", ints, "uint16", "tile16", "packbits")
write("u16_strip1_none_nodata.tif", with_nodata(ints, 65535), "uint16", "strip1", "none", nodata=65535)
write("i32_strip_deflate_nodata.tif", with_nodata(ints, -9999), "int32", "strip", "deflate", nodata=-9999)
write("u32_tile16_lzw.tif", ints, "uint32", "tile16", "lzw")
write("u8_strip_packbits.tif", np.minimum(ints, 255), "uint8", "strip", "packbits")
write("i8_tile16_none.tif", np.minimum(ints, 127), "int8", "tile16", "none")
# WorldPop: EPSG:4326, 3 arc-seconds, float32, nodata -99999, LZW strips.
write("worldpop_4326.tif", with_nodata(frac, -99999.0), "float32", "strip", "lzw", nodata=-99999.0,
      crs="EPSG:4326", transform=wp_transform)
# GHS-POP: World Mollweide 100 m; GDAL writes it as a user-defined projection with a citation.
write("ghs_54009.tif", with_nodata(frac, -200.0), "float32", "tile16", "deflate", nodata=-200.0, crs=MOLL_WKT,
      transform=moll_transform, expect_crs="ESRI:54009")

# --- bad inputs -----------------------------------------------------------------------------------------------------
bad = {}
with rasterio.open(os.path.join(HERE, "bad_two_band.tif"), "w", driver="GTiff", width=W, height=H, count=2,
                   dtype="float32", crs=UTM51N, transform=utm_transform) as dst:
    dst.write(np.stack([frac, frac]))
bad["bad_two_band.tif"] = "2 bands"
with rasterio.open(os.path.join(HERE, "bad_no_georef.tif"), "w", driver="GTiff", width=W, height=H, count=1,
                   dtype="float32") as dst:
    dst.write(frac, 1)
bad["bad_no_georef.tif"] = "no georeferencing"
with open(os.path.join(HERE, "f64_strip_deflate.tif"), "rb") as f:
    whole = f.read()
# Keep the header and IFD but lose most of the compressed strips: GDAL puts the IFD first, the data after it.
with open(os.path.join(HERE, "bad_truncated.tif"), "wb") as f:
    f.write(whole[: len(whole) // 2])
bad["bad_truncated.tif"] = "truncated"
with rasterio.open(os.path.join(HERE, "bad_png_renamed.tif"), "w", driver="PNG", width=W, height=H, count=1,
                   dtype="uint8") as dst:
    dst.write(np.minimum(ints, 255).astype("uint8"), 1)
bad["bad_png_renamed.tif"] = "not a TIFF"
for aux in os.listdir(HERE):
    if aux.endswith(".aux.xml"):
        os.remove(os.path.join(HERE, aux))
with rasterio.open(os.path.join(HERE, "bad_rotated.tif"), "w", driver="GTiff", width=W, height=H, count=1,
                   dtype="float32", crs=UTM51N,
                   transform=Affine(99.0, 10.0, 340000.0, 10.0, -99.0, 3460000.0)) as dst:
    dst.write(frac, 1)
bad["bad_rotated.tif"] = "rotated"
neg = frac.copy()
neg[15, 10] = -5.0
with rasterio.open(os.path.join(HERE, "bad_negative.tif"), "w", driver="GTiff", width=W, height=H, count=1,
                   dtype="float32", crs=UTM51N, transform=utm_transform) as dst:
    dst.write(neg, 1)
bad["bad_negative.tif"] = "negative value at row 15, col 10"
lcc = "+proj=lcc +lat_1=30 +lat_2=33 +lat_0=31 +lon_0=121.5 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
with rasterio.open(os.path.join(HERE, "user_defined_lcc.tif"), "w", driver="GTiff", width=W, height=H, count=1,
                   dtype="float32", crs=lcc, transform=utm_transform) as dst:
    dst.write(frac, 1)
bad["user_defined_lcc.tif"] = "user-defined CRS: needs grid_crs"
expected["bad"] = bad

# --- ESRI ASCII grid ------------------------------------------------------------------------------------------------
asc = with_nodata(ints, -9999)
with open(os.path.join(HERE, "ascii_utm.asc"), "w") as f:
    f.write(f"ncols {W}\nnrows {H}\nxllcorner 340000\nyllcorner {3460000 - 100 * H}\ncellsize 100\n"
            "NODATA_value -9999\n")
    for row in asc:
        f.write(" ".join(str(int(v)) for v in row) + "\n")
with open(os.path.join(HERE, "ascii_utm.prj"), "w") as f:
    f.write(rasterio.crs.CRS.from_string(UTM51N).to_wkt())
expected["files"]["ascii_utm.asc"] = {
    "dtype": "ascii", "layout": "asc", "compress": "none", "predictor": 1, "nodata": -9999.0, "crs": "wkt",
    "transform": [340000.0, 100.0, 3460000.0, -100.0],
    "sum": float(np.where(asc == -9999, 0, asc).sum()), "nodata_cells": int((asc == -9999).sum()),
    "array": array_id(asc), "note": "with .prj (WKT)",
}

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(expected['files'])} grids and {len(bad)} bad files to {HERE}")
