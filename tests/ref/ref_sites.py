#!/usr/bin/python3
"""Independent reference for windcast's NetCDF reader and site interpolation.

Usage: ref_sites.py FILE LAT,LON[,HUB] ...   (prints JSON on stdout)

Reads the file with python3-netCDF4 (which unpacks and masks per CF on its own),
converts time with cftime, and interpolates per CF at each site with plain numpy:
bilinear over the four surrounding cells with weights renormalised over valid corners,
nearest along a dimension one point wide, and the 3x3 neighbourhood mean/std of wind
speed around the nearest cell. Variable names, projections and rotations are declared
per file below (this script does not share windcast's discovery logic on purpose).
"""
import datetime
import json
import math
import os
import re
import sys

import netCDF4
import numpy as np

CONF = {
    "era5_cds_legacy_feedinlib": dict(
        lat="latitude", lon="longitude", time="time",
        wind={10: ("u10", "v10"), 100: ("u100", "v100")}, t2m="t2m", sp="sp"),
    "era5_cds_expver_bushyr": dict(
        lat="latitude", lon="longitude", time="time", speed={10: "si10"}, t2m="t2m",
        expver=True),
    "era5_cds_new_netcdf4_atik": dict(
        lat="latitude", lon="longitude", time="valid_time", wind={10: ("u10", "v10")}),
    "era5_ws10_ushort_reskit": dict(
        lat="latitude", lon="longitude", time="time", speed={10: "ws10"}),
    "gfs_cfgrib_step_routing": dict(
        lat="latitude", lon="longitude", time="valid_time", reftime_var="time",
        wind={10: ("u10", "v10")}),
    "gfs_wgrib2_routing": dict(
        lat="latitude", lon="longitude", time="time", reftime_attr="reference_time",
        wind={10: ("UGRD_10maboveground", "VGRD_10maboveground")}),
    "nam_ncss_lcc_windninja": dict(
        kind="lcc", x="x", y="y", xy_scale=1000.0, time="time",
        lcc=(25.0, 25.0, 25.0, 265.0, 6371229.0), rotate=True,
        wind={10: ("u-component_of_wind_height_above_ground",
                   "v-component_of_wind_height_above_ground")},
        t2m="Temperature_height_above_ground"),
    "arome_lcc_nc4classic_opendrift": dict(
        kind="lcc", x="x", y="y", xy_scale=1.0, time="time",
        lcc=(63.0, 63.0, 63.0, 15.0, 6371000.0), rotate=True,
        wind={10: ("x_wind_10m", "y_wind_10m")}),
    "wrf_mercator_ci_wrfpython": dict(
        kind="curvilinear", lat="XLAT", lon="XLONG", wrf_times="Times",
        wrf_ref="SIMULATION_START_DATE",
        wind={10: ("U10", "V10")}, t2m="T2", sp="PSFC"),
}

EPOCH = datetime.datetime(1970, 1, 1)


def to_epoch(dates):
    out = []
    for d in np.atleast_1d(dates):
        dt = datetime.datetime(d.year, d.month, d.day, d.hour, d.minute, d.second)
        out.append(int(round((dt - EPOCH).total_seconds())))
    return out


def decode_time(var):
    units = var.units
    cal = getattr(var, "calendar", "standard")
    # cftime does not know the "0:00" zone suffix of wgrib2 or a trailing Z
    units = re.sub(r"\s+[+-]?0?0:00$", "", units)
    units = re.sub(r"Z$", "", units).replace("T", " ")
    units = re.sub(r"^Hour ", "hours ", units)
    vals = np.ma.filled(var[:], np.nan).astype("f8")
    return to_epoch(netCDF4.num2date(vals, units, cal,
                                     only_use_cftime_datetimes=False,
                                     only_use_python_datetimes=True))


def filled(a):
    return np.ma.filled(np.ma.asarray(a, dtype="f8"), np.nan)


class LCC:
    def __init__(self, lat1, lat2, lat0, lon0, r):
        p1, p2, p0 = map(math.radians, (lat1, lat2, lat0))
        if abs(p1 - p2) < 1e-10:
            self.n = math.sin(p1)
        else:
            self.n = (math.log(math.cos(p1) / math.cos(p2)) /
                      math.log(math.tan(math.pi / 4 + p2 / 2) / math.tan(math.pi / 4 + p1 / 2)))
        self.F = math.cos(p1) * math.tan(math.pi / 4 + p1 / 2) ** self.n / self.n
        self.r = r
        self.rho0 = r * self.F / math.tan(math.pi / 4 + p0 / 2) ** self.n
        self.lon0 = lon0

    def forward(self, lat, lon):
        dl = math.radians((lon - self.lon0 + 180) % 360 - 180)
        rho = self.r * self.F / math.tan(math.pi / 4 + math.radians(lat) / 2) ** self.n
        return rho * math.sin(self.n * dl), self.rho0 - rho * math.cos(self.n * dl)

    def inverse_lon(self, x, y):
        s = 1 if self.n > 0 else -1
        theta = math.atan2(s * x, s * (self.rho0 - y))
        return (math.degrees(theta / self.n) + self.lon0 + 180) % 360 - 180

    def angle(self, lon):
        return self.n * math.radians((lon - self.lon0 + 180) % 360 - 180)


def frac_index(coord, v):
    """Fractional index of v in monotonic coord; None when outside."""
    c = np.asarray(coord, dtype="f8")
    n = len(c)
    if n == 1:
        return 0.0
    if c[-1] < c[0]:
        f = frac_index(c[::-1], v)
        return None if f is None else (n - 1) - f
    eps = 1e-9 * (c[-1] - c[0])
    if v < c[0] - eps or v > c[-1] + eps:
        return None
    i = int(np.searchsorted(c, v, side="right") - 1)
    i = min(max(i, 0), n - 2)
    return min(max(i + (v - c[i]) / (c[i + 1] - c[i]), 0.0), n - 1.0)


def curvilinear_index(lat2, lon2, lat, lon):
    cl = math.cos(math.radians(lat))
    dlon = (lon2 - lon + 180) % 360 - 180
    d = (lat2 - lat) ** 2 + (dlon * cl) ** 2
    bi, bj = np.unravel_index(np.argmin(d), d.shape)
    ny, nx = lat2.shape
    for di in (-1, 0):
        for dj in (-1, 0):
            i, j = bi + di, bj + dj
            if i < 0 or j < 0 or i + 1 >= ny or j + 1 >= nx:
                continue
            X = [((lon2[i + k // 2, j + k % 2] - lon + 180) % 360 - 180) * cl for k in range(4)]
            Y = [lat2[i + k // 2, j + k % 2] - lat for k in range(4)]
            a = b = 0.5
            for _ in range(30):
                px = (1-a)*(1-b)*X[0] + b*(1-a)*X[1] + a*(1-b)*X[2] + a*b*X[3]
                py = (1-a)*(1-b)*Y[0] + b*(1-a)*Y[1] + a*(1-b)*Y[2] + a*b*Y[3]
                dxa = (1-b)*(X[2]-X[0]) + b*(X[3]-X[1])
                dxb = (1-a)*(X[1]-X[0]) + a*(X[3]-X[2])
                dya = (1-b)*(Y[2]-Y[0]) + b*(Y[3]-Y[1])
                dyb = (1-a)*(Y[1]-Y[0]) + a*(Y[3]-Y[2])
                det = dxa * dyb - dxb * dya
                if abs(det) < 1e-300:
                    break
                a -= (px * dyb - py * dxb) / det
                b -= (py * dxa - px * dya) / det
            if -1e-9 <= a <= 1 + 1e-9 and -1e-9 <= b <= 1 + 1e-9:
                return i + min(max(a, 0), 1), j + min(max(b, 0), 1)
    return None


def corners(fy, fx, ny, nx):
    i0 = int(math.floor(fy)) if ny > 1 else 0
    j0 = int(math.floor(fx)) if nx > 1 else 0
    i0 = min(i0, ny - 2) if ny > 1 else 0
    j0 = min(j0, nx - 2) if nx > 1 else 0
    wy = fy - i0 if ny > 1 else 0.0
    wx = fx - j0 if nx > 1 else 0.0
    return i0, j0, wy, wx


def bilinear(field, i0, j0, wy, wx):
    """field: (T, ny, nx). Renormalise over valid corners with positive weight."""
    ny, nx = field.shape[1:]
    acc = np.zeros(field.shape[0])
    wsum = np.zeros(field.shape[0])
    for di, dj, w in ((0, 0, (1-wy)*(1-wx)), (0, 1, (1-wy)*wx), (1, 0, wy*(1-wx)), (1, 1, wy*wx)):
        i, j = i0 + di, j0 + dj
        if w <= 0 or i >= ny or j >= nx:
            continue
        v = field[:, i, j]
        ok = np.isfinite(v)
        acc[ok] += w * v[ok]
        wsum[ok] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wsum > 0, acc / np.where(wsum > 0, wsum, 1), np.nan)


def neighbourhood(speed, i0, j0, wy, wx):
    ny, nx = speed.shape[1:]
    ci = i0 + (1 if wy >= 0.5 else 0)
    cj = j0 + (1 if wx >= 0.5 else 0)
    block = speed[:, max(ci-1, 0):min(ci+2, ny), max(cj-1, 0):min(cj+2, nx)]
    block = block.reshape(block.shape[0], -1)
    with np.errstate(invalid="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.nanmean(block, axis=1), np.nanstd(block, axis=1)


def read_field(ds, name, conf):
    v = ds.variables[name]
    v.set_auto_maskandscale(True)
    a = filled(v[:])
    dims = v.dimensions
    if conf.get("expver") and "expver" in dims:
        # per time the first expver slice with any valid value (ERA5 + ERA5T)
        e = dims.index("expver")
        a = np.moveaxis(a, e, 1)
        out = np.full((a.shape[0],) + a.shape[2:], np.nan)
        for t in range(a.shape[0]):
            for k in range(a.shape[1]):
                if np.isfinite(a[t, k]).any():
                    out[t] = a[t, k]
                    break
        a = out
    # drop singleton non-spatial dims (e.g. height_above_ground2 = 1)
    while a.ndim > 3:
        a = a[:, 0] if a.shape[1] == 1 else a
        if a.ndim > 3 and a.shape[1] != 1:
            raise SystemExit("unexpected shape for %s" % name)
    return a


def main():
    path = sys.argv[1]
    key = os.path.basename(path).rsplit(".", 1)[0]
    conf = CONF[key]
    ds = netCDF4.Dataset(path)
    ds.set_always_mask(True)
    kind = conf.get("kind", "regular")

    if "wrf_times" in conf:
        raw = ds.variables[conf["wrf_times"]][:]
        strs = ["".join(c.decode() for c in row) for row in raw]
        times = [int((datetime.datetime.strptime(s, "%Y-%m-%d_%H:%M:%S") - EPOCH).total_seconds())
                 for s in strs]
        ref = int((datetime.datetime.strptime(getattr(ds, conf["wrf_ref"]), "%Y-%m-%d_%H:%M:%S")
                   - EPOCH).total_seconds())
    else:
        times = decode_time(ds.variables[conf["time"]])
        ref = None
        if "reftime_var" in conf:
            ref = decode_time(ds.variables[conf["reftime_var"]])[0]
        if "reftime_attr" in conf:
            ref = int(getattr(ds.variables[conf["time"]], conf["reftime_attr"]))

    fields = {}
    for h, (un, vn) in conf.get("wind", {}).items():
        fields[("u", h)] = read_field(ds, un, conf)
        fields[("v", h)] = read_field(ds, vn, conf)
    for h, sn in conf.get("speed", {}).items():
        fields[("ws", h)] = read_field(ds, sn, conf)
    for k in ("t2m", "sp"):
        if k in conf:
            fields[(k, 0)] = read_field(ds, conf[k], conf)

    if kind == "regular":
        lat = filled(ds.variables[conf["lat"]][:])
        lon = filled(ds.variables[conf["lon"]][:])
        ny, nx = len(lat), len(lon)
    elif kind == "lcc":
        proj = LCC(*conf["lcc"])
        ys = filled(ds.variables[conf["y"]][:]) * conf["xy_scale"]
        xs = filled(ds.variables[conf["x"]][:]) * conf["xy_scale"]
        ny, nx = len(ys), len(xs)
    else:
        lat2 = filled(ds.variables[conf["lat"]][0])
        lon2 = filled(ds.variables[conf["lon"]][0])
        ny, nx = lat2.shape

    heights = sorted(set(h for (q, h) in fields if q in ("u", "ws")))
    nbr_h = min(heights, key=lambda h: abs(math.log(h / 100.0)))
    result = {"times": times, "reference_time": ref, "heights": heights, "sites": []}
    for arg in sys.argv[2:]:
        parts = [float(p) for p in arg.split(",")]
        slat, slon = parts[0], parts[1]
        if kind == "regular":
            fy = frac_index(lat, slat)
            lo = float(min(lon[0], lon[-1]))
            v = lo + ((slon - lo) % 360.0)
            fx = frac_index(lon, v)
            pos = None if fy is None or fx is None else (fy, fx)
        elif kind == "lcc":
            x, y = proj.forward(slat, slon)
            fy, fx = frac_index(ys, y), frac_index(xs, x)
            pos = None if fy is None or fx is None else (fy, fx)
        else:
            pos = curvilinear_index(lat2, lon2, slat, slon)
        if pos is None:
            result["sites"].append({"inside": False})
            continue
        i0, j0, wy, wx = corners(pos[0], pos[1], ny, nx)
        cols = {}
        speeds = {}
        for h in heights:
            if ("u", h) in fields:
                u, v = fields[("u", h)].copy(), fields[("v", h)].copy()
                if conf.get("rotate"):
                    for i in range(ny):
                        for j in range(nx):
                            if abs(i - i0) > 2 or abs(j - j0) > 2:
                                continue
                            ang = proj.angle(proj.inverse_lon(xs[j], ys[i]))
                            c, s = math.cos(ang), math.sin(ang)
                            uu, vv = u[:, i, j].copy(), v[:, i, j].copy()
                            u[:, i, j] = uu * c + vv * s
                            v[:, i, j] = -uu * s + vv * c
                ui = bilinear(u, i0, j0, wy, wx)
                vi = bilinear(v, i0, j0, wy, wx)
                cols["u%d" % h] = ui
                cols["v%d" % h] = vi
                cols["ws%d" % h] = np.hypot(ui, vi)
                cols["wd%d" % h] = np.degrees(np.arctan2(-ui, -vi)) % 360.0
                speeds[h] = np.hypot(u, v)
            else:
                cols["ws%d" % h] = bilinear(fields[("ws", h)], i0, j0, wy, wx)
                speeds[h] = fields[("ws", h)]
        m, s = neighbourhood(speeds[nbr_h], i0, j0, wy, wx)
        cols["nbr_mean"], cols["nbr_std"] = m, s
        for k in ("t2m", "sp"):
            if (k, 0) in fields:
                cols[k] = bilinear(fields[(k, 0)], i0, j0, wy, wx)
        if len(parts) > 2 and len(heights) >= 2 and 10 in heights and 100 in heights:
            w10, w100 = cols["ws10"], cols["ws100"]
            hub = parts[2]
            near, far = (100, 10) if abs(math.log(hub / 100)) <= abs(math.log(hub / 10)) else (10, 100)
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = np.where((w10 >= 0.1) & (w100 >= 0.1),
                                 np.log(cols["ws%d" % far] / cols["ws%d" % near]) / math.log(far / near),
                                 1 / 7)
            cols["ws_hub"] = cols["ws%d" % near] * (hub / near) ** alpha
        result["sites"].append({
            "inside": True, "fy": pos[0], "fx": pos[1],
            "cols": {k: [None if not np.isfinite(x) else float(x) for x in v]
                     for k, v in cols.items()}})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
