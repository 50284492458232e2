-- count.lua - wrk script of scripts/loadtest: counts replies that are not 2xx (wrk's own
-- summary lets 3xx pass) and ends with name=value lines: requests, rps, p50_ms, p99_ms,
-- non2xx and socket_errors, summed over wrk's threads.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	non2xx = 0
end

function response(status, headers, body)
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local bad = 0
	for _, t in ipairs(threads) do
		bad = bad + t:get("non2xx")
	end
	local e = summary.errors
	io.write(string.format("requests=%d\n", summary.requests))
	io.write(string.format("rps=%.1f\n", summary.requests / (summary.duration / 1e6)))
	io.write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
	io.write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
	io.write(string.format("non2xx=%d\n", bad))
	io.write(string.format("socket_errors=%d\n", e.connect + e.read + e.write + e.timeout))
end
