"""gefcom_common - shared helpers of scripts/gefcom2012 and scripts/gefcom2014.

Reading the competition CSVs with validation (a missing file or column is a clear error,
exit status 1), writing CF-1.8 point files (featureType timeSeries, one series per farm,
station_id with cf_role timeseries_id) that `windcast ingest` reads, writing observation
CSVs for `windcast obs import` and running the windcast CLI. Every score and
baseline comes from `windcast backtest`.

Limits: the whole input is held in memory (a few hundred MB at most for the competition
files). Files are written to a temporary name and renamed, and the same inputs always
give the same bytes (netCDF-3 classic, no creation time), so a re-run re-ingests nothing.
"""

import calendar
import csv
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

try:
    import netCDF4
except ImportError:  # reported by require_netcdf4() when a conversion is asked for
    netCDF4 = None

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "gefcom"
HOUR = 3600
NA_STRINGS = ("", "NA", "NaN", "nan", "N/A", "null")


class InputError(Exception):
    """Bad input data: the message names the file, the row and what is wrong."""


def die(msg, status=1):
    sys.stderr.write("%s: error: %s\n" % (PROG, msg))
    sys.exit(status)


def say(msg):
    sys.stdout.write("%s: %s\n" % (PROG, msg))
    sys.stdout.flush()


def require_netcdf4():
    if netCDF4 is None:
        die("the Python module netCDF4 is missing for %s (run scripts/install-deps, "
            "or apt-get install python3-netcdf4)" % sys.executable)


# ---- time ----

def parse_yyyymmddhh(text, where):
    t = text.strip()
    if len(t) != 10 or not t.isdigit():
        raise InputError("%s: bad time '%s' (want YYYYMMDDHH)" % (where, text))
    y, mo, d, h = int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[8:10])
    if not (1 <= mo <= 12 and 0 <= h <= 23 and 1 <= d <= calendar.monthrange(y, mo)[1]):
        raise InputError("%s: bad time '%s' (not a date and hour)" % (where, text))
    return calendar.timegm((y, mo, d, h, 0, 0))


def yyyymmddhh(t):
    return time.strftime("%Y%m%d%H", time.gmtime(t))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t))


def parse_iso(text):
    """'2012-10-01T00:00Z' (or :SSZ) -> epoch seconds."""
    t = text.strip().rstrip("Z")
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return calendar.timegm(time.strptime(t, fmt))
        except ValueError:
            pass
    raise ValueError("bad ISO 8601 time '%s'" % text)


def month_start(t):
    g = time.gmtime(t)
    return calendar.timegm((g.tm_year, g.tm_mon, 1, 0, 0, 0))


def add_months(t, k):
    g = time.gmtime(t)
    m = g.tm_year * 12 + (g.tm_mon - 1) + k
    return calendar.timegm((m // 12, m % 12 + 1, 1, 0, 0, 0))


# ---- CSV ----

def read_csv(path, required, optional=()):
    """Header and rows of a CSV. `required` columns must be present (any order); returns
    (index dict name -> column, list of rows, each a list of strings)."""
    if not os.path.isfile(path):
        raise InputError("cannot read '%s': no such file" % path)
    with open(path, newline="") as fh:
        rd = csv.reader(fh)
        try:
            header = next(rd)
        except StopIteration:
            raise InputError("'%s' is empty (want a header with %s)" % (path, ",".join(required)))
        header = [h.strip().lstrip("\ufeff") for h in header]
        col = {h: i for i, h in enumerate(header)}
        missing = [c for c in required if c not in col]
        if missing:
            raise InputError("'%s' lacks column%s %s (header: %s)" % (
                path, "s" if len(missing) > 1 else "", ", ".join(missing), ",".join(header)))
        rows = []
        for ln, r in enumerate(rd, start=2):
            if not r or (len(r) == 1 and not r[0].strip()):
                continue
            if len(r) != len(header):
                raise InputError("'%s' line %d: %d fields, the header has %d" % (
                    path, ln, len(r), len(header)))
            rows.append(r)
    return col, rows


def parse_value(text, where, lo=-math.inf, hi=math.inf):
    """A float, NaN for the NA spellings; out-of-range or non-numeric is an error."""
    t = text.strip()
    if t in NA_STRINGS:
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise InputError("%s: '%s' is not a number" % (where, text))
    if not math.isfinite(v):
        return math.nan
    if v < lo or v > hi:
        raise InputError("%s: %g is outside [%g, %g]" % (where, v, lo, hi))
    return v


# ---- writing ----

def replace_if_changed(tmp, path):
    """Rename tmp over path unless path already has the same bytes (keeps mtimes)."""
    if os.path.exists(path):
        with open(tmp, "rb") as a, open(path, "rb") as b:
            if a.read() == b.read():
                os.unlink(tmp)
                return False
    os.replace(tmp, path)
    return True


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    return replace_if_changed(tmp, path)


def write_farms_json(path, farms):
    """farms: list of dicts id, name, lat, lon, capacity_mw, hub_height_m."""
    return write_text(path, json.dumps(farms, indent=1) + "\n")


def write_obs_csv(path, times, power, flag=None):
    """time,power_mw (ISO 8601, hour-ending); NaN power rows are left out. With a flag
    ("ok", "outage", "curtailed") a third column gives it to every row."""
    lines = ["time,power_mw" + (",flag" if flag else "")]
    tail = "," + flag if flag else ""
    for t, p in zip(times, power):
        if math.isfinite(p):
            lines.append("%s,%s%s" % (iso(int(t)), _fmt(p), tail))
    return write_text(path, "\n".join(lines) + "\n")


def _fmt(v):
    s = "%.6f" % v
    s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


FILL = np.float32(9.96921e36)  # netCDF default float fill


def write_point_file(path, station_ids, lats, lons, times, winds, ref_time=None,
                     title="", source=""):
    """One CF point file (featureType timeSeries, orthogonal multidimensional layout).

    station_ids/lats/lons: per station; times: valid times (epoch s, ascending);
    winds: {height_m: (u, v)} with u, v arrays (station, time) in m/s, NaN = missing;
    ref_time: epoch s of the NWP run (a forecast file) or None (an analysis).
    """
    require_netcdf4()
    ns, nt = len(station_ids), len(times)
    slen = max(8, max(len(s) for s in station_ids))
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    ds = netCDF4.Dataset(tmp, "w", format="NETCDF3_CLASSIC")
    try:
        ds.Conventions = "CF-1.8"
        ds.featureType = "timeSeries"
        ds.title = title
        ds.source = source
        ds.createDimension("station", ns)
        ds.createDimension("time", nt)
        ds.createDimension("name_strlen", slen)
        tv = ds.createVariable("time", "f8", ("time",))
        tv.standard_name = "time"
        tv.long_name = "valid time (hour-ending)"
        tv.units = "hours since 1970-01-01 00:00:00"
        tv.calendar = "standard"
        tv.axis = "T"
        tv[:] = np.asarray(times, dtype=np.float64) / HOUR
        if ref_time is not None:
            rv = ds.createVariable("forecast_reference_time", "f8", ())
            rv.standard_name = "forecast_reference_time"
            rv.long_name = "issue time of the NWP run"
            rv.units = tv.units
            rv.calendar = "standard"
            rv.assignValue(ref_time / HOUR)
        sid = ds.createVariable("station_id", "S1", ("station", "name_strlen"))
        sid.cf_role = "timeseries_id"
        sid.long_name = "farm id"
        sid[:] = netCDF4.stringtochar(np.array([s.ljust(slen) for s in station_ids],
                                               dtype="S%d" % slen))
        la = ds.createVariable("lat", "f8", ("station",))
        la.standard_name = "latitude"
        la.units = "degrees_north"
        la[:] = lats
        lo = ds.createVariable("lon", "f8", ("station",))
        lo.standard_name = "longitude"
        lo.units = "degrees_east"
        lo[:] = lons
        for h in sorted(winds):
            hn = "height%d" % int(round(h))
            hv = ds.createVariable(hn, "f8", ())
            hv.standard_name = "height"
            hv.long_name = "height above ground"
            hv.units = "m"
            hv.positive = "up"
            hv.axis = "Z"
            hv.assignValue(float(h))
            for comp, sn, arr in (("u", "eastward_wind", winds[h][0]),
                                  ("v", "northward_wind", winds[h][1])):
                name = "%s%d" % (comp, int(round(h)))
                var = ds.createVariable(name, "f4", ("station", "time"), fill_value=FILL)
                var.standard_name = sn
                var.long_name = "%s wind at %g m" % ("eastward" if comp == "u" else "northward", h)
                var.units = "m s-1"
                var.coordinates = "time lat lon %s station_id" % hn
                a = np.asarray(arr, dtype=np.float64).reshape(ns, nt)
                var[:] = np.where(np.isfinite(a), a, FILL).astype(np.float32)
    finally:
        ds.close()
    return replace_if_changed(tmp, path)


# ---- running windcast ----

class Windcast:
    """The windcast CLI on one data directory; every call is logged with its duration."""

    def __init__(self, binary, data_dir, log_path=None):
        self.bin = binary
        self.data = data_dir
        self.last_cpu = 0.0
        self.log = open(log_path, "a") if log_path else None

    def run(self, *args, check=True, capture=True):
        cmd = [self.bin, "--data", self.data] + [str(a) for a in args]
        t0, r0 = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.PIPE, text=True)
        dt, r1 = time.time() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds of the call (user + sys): on a loaded machine, what it cost
        self.last_cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
        m = re.search(r"set (OPENBLAS_CORETYPE)=(\w+)", p.stderr or "")
        if m and not os.environ.get(m.group(1)):
            # windcast says its BLAS picked slow kernels: follow its advice from now on
            os.environ[m.group(1)] = m.group(2)
            say("using %s=%s for the next windcast calls, as it advises" % m.groups())
        if self.log:
            self.log.write("%.2fs cpu %.2fs rc=%d %s\n" % (dt, self.last_cpu, p.returncode,
                                                         " ".join(cmd)))
            if p.stderr:
                self.log.write(p.stderr)
            if capture and p.stdout and args and args[0] in ("train", "obs", "farm",
                                                             "backtest"):
                self.log.write(p.stdout[-4000:])
            self.log.flush()
        if check and p.returncode != 0:
            raise RuntimeError("'%s' failed (exit %d): %s" % (
                " ".join(cmd[3:9]), p.returncode, (p.stderr or "").strip()[-2000:]))
        return p

    def has(self, *command):
        """Does this windcast have the (sub)command? (its --help exits 0)"""
        p = subprocess.run([self.bin] + list(command) + ["--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        return p.returncode == 0

    def help_text(self, *command):
        p = subprocess.run([self.bin] + list(command) + ["--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return p.stdout if p.returncode == 0 else ""

    def ingest(self, files, chunk=400):
        """Ingest in chunks; returns (ingested, already known). A rejected file fails."""
        n_new = n_known = 0
        for i in range(0, len(files), chunk):
            p = self.run("ingest", "--format", "json", *files[i:i + chunk], check=False)
            try:
                results = json.loads(p.stdout)
            except ValueError:
                raise RuntimeError("windcast ingest failed (exit %d): %s" % (
                    p.returncode, (p.stderr or p.stdout).strip()[-2000:]))
            for r in results:
                if r["status"] == "rejected":
                    raise RuntimeError("windcast rejected '%s': %s" % (r["file"], r["error"]))
            if p.returncode != 0:
                raise RuntimeError("windcast ingest failed (exit %d): %s" % (
                    p.returncode, (p.stderr or "").strip()[-2000:]))
            n_new += sum(r["status"] == "ingested" for r in results)
            n_known += sum(r["status"] == "known" for r in results)
        return n_new, n_known


def find_windcast(explicit):
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [explicit] if explicit else [os.environ.get("WINDCAST_BIN"),
                                          os.path.join(here, "..", "windcast"),
                                          shutil.which("windcast")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    die("cannot find the windcast binary (build it with 'make', or pass --windcast PATH)")


def level_of_column(h):
    """The quantile level of a forecast CSV column as a string ("p05" -> "0.05", "p2.5" ->
    "0.025"; the older "q0.05" -> "0.05"), or None for another column."""
    try:
        if h.startswith("q"):
            return "%g" % float(h[1:])
        if h.startswith("p") and h[1:2].isdigit():
            return "%g" % (float(h[1:]) / 100)
    except ValueError:
        pass
    return None


def parse_forecast_csv(text, where):
    """`windcast forecast --format csv` -> list of dicts (issued, valid_time, lead_h,
    point, and every quantile column (p10, p2.5, ...) as float keyed by its level as
    a string, "0.1", "0.025")."""
    rd = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(rd)]
    except StopIteration:
        raise RuntimeError("%s: windcast forecast printed nothing" % where)
    for c in ("valid_time", "point"):
        if c not in header:
            raise RuntimeError("%s: forecast CSV lacks '%s' (header: %s)" % (
                where, c, ",".join(header)))
    out = []
    for r in rd:
        if not r:
            continue
        d = dict(zip(header, r))
        rec = {"valid_time": parse_iso(d["valid_time"]), "point": float(d["point"]),
               "q": {}}
        if d.get("issued"):
            rec["issued"] = parse_iso(d["issued"])
        if "lead_h" in d and d["lead_h"] != "":
            rec["lead_h"] = float(d["lead_h"])
        for h, v in d.items():
            lv = level_of_column(h)
            if lv is not None and v != "":
                try:
                    rec["q"][lv] = float(v)
                except ValueError:
                    pass
        out.append(rec)
    return out


class Timer:
    def __init__(self):
        self.t0 = time.time()
        self.marks = []

    def mark(self, name):
        t = time.time()
        self.marks.append((name, t - self.t0))
        say("%s done (%.1f s elapsed)" % (name, t - self.t0))
