/*
 * test_gefcom_backtest.c - scripts/gefcom2012 end to end on a small synthetic
 * competition (two farms, 14 months of hourly power, NWP runs every 12 h with leads
 * 1..48, 17 test periods of 48 h every 84 h in 2011-01..02), trained tiny: every number
 * it writes comes from `windcast backtest`. A plain Python reader of the files checks
 * that submission.csv keeps benchmark.csv's layout (header, ids and dates in its order)
 * and holds, for each test hour, the model's point in bt-test/forecasts.csv issued 1 h
 * before the hour's period starts; quantiles.csv the same forecast's q0.05..q0.95 and
 * commitments.csv bt-test/commitments.csv's committed_mw; validation.md's pooled RMSE is
 * bt-valid/metrics.json's and its leads 13-24 pool the per-lead RMSE by their counts;
 * the validation's trainings hid every pseudo-test period (--train-exclude).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The synthetic competition, written into argv[1]. */
static const char gen[] =
	"import calendar, math, os, random, sys\n"
	"out = sys.argv[1]\n"
	"H = 3600\n"
	"rnd = random.Random(7)\n"
	"t0 = calendar.timegm((2010, 1, 1, 0, 0, 0))\n"
	"t1 = calendar.timegm((2011, 3, 1, 0, 0, 0))\n"
	"n = (t1 - t0) // H\n"
	"wind = []\n"
	"u = v = 0.0\n"
	"for i in range(n + 60):\n"
	"    u = 0.97 * u + rnd.gauss(0, 0.8)\n"
	"    v = 0.97 * v + rnd.gauss(0, 0.8)\n"
	"    wind.append((u + 3, v))\n"
	"def ymdh(t):\n"
	"    g = __import__('time').gmtime(t)\n"
	"    return '%04d%02d%02d%02d' % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour)\n"
	"# test periods: 48 h every 84 h from 2011-01-01 01:00 while inside the data\n"
	"tp = []\n"
	"s = calendar.timegm((2011, 1, 1, 1, 0, 0))\n"
	"while s + 47 * H < t1:\n"
	"    tp.append(s); s += 84 * H\n"
	"test_hours = set()\n"
	"for s in tp:\n"
	"    test_hours.update(range(s, s + 48 * H, H))\n"
	"with open(os.path.join(out, 'train.csv'), 'w') as f:\n"
	"    f.write('date,wp1,wp2\\n')\n"
	"    for i in range(1, n):\n"
	"        t = t0 + i * H\n"
	"        if t in test_hours:\n"
	"            continue\n"
	"        sp = math.hypot(*wind[i])\n"
	"        p1 = min(1, (sp / 9) ** 3)\n"
	"        p2 = min(1, (sp / 10) ** 3)\n"
	"        f.write('%s,%.3f,%.3f\\n' % (ymdh(t), min(1, max(0, p1 + rnd.gauss(0, .03))),\n"
	"                                    min(1, max(0, p2 + rnd.gauss(0, .03)))))\n"
	"for k in (1, 2):\n"
	"    with open(os.path.join(out, 'windforecasts_wf%d.csv' % k), 'w') as f:\n"
	"        f.write('date,hors,u,v,ws,wd\\n')\n"
	"        for r in range(t0, t1 - 12 * H, 12 * H):\n"
	"            for h in range(1, 49):\n"
	"                i = (r - t0) // H + h\n"
	"                uu = wind[i][0] + rnd.gauss(0, 0.7) * k\n"
	"                vv = wind[i][1] + rnd.gauss(0, 0.7)\n"
	"                f.write('%s,%d,%.2f,%.2f,%.2f,0\\n' % (ymdh(r), h, uu, vv, math.hypot(uu, vv)))\n"
	"with open(os.path.join(out, 'test.csv'), 'w') as f, \\\n"
	"        open(os.path.join(out, 'benchmark.csv'), 'w') as b:\n"
	"    f.write('id,date\\n'); b.write('id,date,wp1,wp2\\n')\n"
	"    k = 0\n"
	"    for s in tp:\n"
	"        for t in range(s, s + 48 * H, H):\n"
	"            k += 1\n"
	"            f.write('%d,%s\\n' % (k, ymdh(t))); b.write('%d,%s,0.5,0.5\\n' % (k, ymdh(t)))\n";

/* The checks on OUT (argv[1]) against the inputs (argv[2]). */
static const char check[] =
	"import calendar, csv, json, math, sys, time\n"
	"out, inp = sys.argv[1], sys.argv[2]\n"
	"iso = lambda s: calendar.timegm(time.strptime(s, '%Y-%m-%dT%H:%M:%SZ'))\n"
	"ymdh = lambda s: calendar.timegm(time.strptime(s, '%Y%m%d%H'))\n"
	"rows = lambda p: list(csv.DictReader(open(out + p)))\n"
	"fc = {(r['farm'], iso(r['issued']), iso(r['valid_time'])): r\n"
	"      for r in rows('/bt-test/forecasts.csv') if r['method'] == 'model'}\n"
	"com = {(r['farm'], iso(r['issued']), iso(r['period_end'])): float(r['committed_mw'])\n"
	"       for r in rows('/bt-test/commitments.csv')}\n"
	"bench = list(csv.DictReader(open(inp + '/benchmark.csv')))\n"
	"sub, q, cm = rows('/submission.csv'), rows('/quantiles.csv'), rows('/commitments.csv')\n"
	"print(open(out + '/submission.csv').readline().strip(), len(sub) == len(bench))\n"
	"start = {}\n"
	"for h in sorted(ymdh(b['date']) for b in bench):\n"
	"    start[h] = start.get(h - 3600, h)\n"
	"bad = 0\n"
	"for i, (b, s) in enumerate(zip(bench, sub)):\n"
	"    t = ymdh(b['date'])\n"
	"    T = start[t] - 3600\n"
	"    bad += (s['id'], s['date']) != (b['id'], b['date'])\n"
	"    for k, w in enumerate(('wp1', 'wp2')):\n"
	"        f = 'wf' + w[2:]\n"
	"        r = fc[(f, T, t)]\n"
	"        bad += s[w] != '%.4f' % min(max(float(r['point']), 0), 1)\n"
	"        qq = q[2 * i + k]\n"
	"        bad += qq['farm'] != f or any(qq['p%02d' % p] != '%.4f' % float(r['q%g' % (p / 100)])\n"
	"                                      for p in range(5, 100, 5))\n"
	"        bad += cm[i][w] != '%.4f' % com[(f, T, t)]\n"
	"print('mismatches', bad)\n"
	"m = json.load(open(out + '/bt-valid/metrics.json'))\n"
	"md = open(out + '/validation.md').read()\n"
	"se = n = 0\n"
	"for e in m['by_lead']:\n"
	"    if 13 <= e['lead'] <= 24:\n"
	"        se += e['model']['n'] * e['model']['rmse'] ** 2\n"
	"        n += e['model']['n']\n"
	"print('pooled', '**%.4f**' % (m['overall']['model']['rmse'] / 100) in md,\n"
	"      'block', '| 13-24 | %.4f |' % (math.sqrt(se / n) / 100) in md,\n"
	"      'hidden', m['train_exclude']['intervals'] == len(open(out + '/train-exclude.txt').read().split('\\n')) - 2)\n";

Test(gefcom_backtest, gefcom2012_writes_what_the_backtests_made, .timeout = 900)
{
	char *in = tu_tmpdir(), *out = tu_tmpdir(), *cmd = NULL, *so = NULL, *se = NULL, *p;

	cr_assert(asprintf(&cmd, "'%s' -c 'import netCDF4, numpy'", tu_python()) > 0);
	if (tu_run(cmd, NULL, NULL) != 0)
		cr_skip_test("%s lacks the netCDF4/numpy modules the GEFCom scripts need",
			     tu_python());
	free(cmd);
	free(tu_write_tmp(in, "gen.py", gen));
	free(tu_write_tmp(out, "check.py", check));
	cr_assert(asprintf(&cmd, "'%s' '%s/gen.py' '%s'", tu_python(), in, in) > 0);
	cr_assert_eq(tu_run(cmd, NULL, &se), 0, "%s", se);
	free(cmd);
	free(se);
	cr_assert(asprintf(&cmd, "'%s' '%s/scripts/gefcom2012' --windcast '%s' --train-args "
				 "'--ensemble 1 --epochs 2 --hidden 4,4' '%s' '%s/run'",
			   tu_python(), tu_src(), tu_bin(), in, out) > 0);
	cr_assert_eq(tu_run(cmd, &so, &se), 0, "%s\n%s", so, se);
	free(cmd);
	free(so);
	free(se);
	cr_assert(asprintf(&cmd, "'%s' '%s/check.py' '%s/run' '%s'", tu_python(), out, out,
			   in) > 0);
	cr_assert_eq(tu_run(cmd, &so, &se), 0, "%s\n%s", so, se);
	cr_assert_str_eq(so, "id,date,wp1,wp2 True\nmismatches 0\n"
			     "pooled True block True hidden True\n", "%s", se);
	p = tu_slurp("%s/run/test-era.md", out);
	cr_assert(strstr(p, "| 1-48 | "), "%s", p);
	free(p);
	p = tu_slurp("%s/run/value.md", out);
	cr_assert(strstr(p, "| farms | alpha_quantile | "), "%s", p);
	free(p);
	free(cmd);
	free(so);
	free(se);
	tu_rmrf_free(in);
	tu_rmrf_free(out);
}
