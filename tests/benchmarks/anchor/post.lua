-- from ../shared/bench/anchor, the workload issue #13 was measured with (post.lua).
-- The wrk client: POST the anchor's RaadpleegMetBurgerservicenummer query with a bearer token and
-- the anchor's headers. Changed from the anchor: TOKENS_FILE holds one token per line (one per
-- tenant) and the requests take them in turn, so N tenants share the load evenly.
local tokens = {}
for line in io.lines((assert(os.getenv("TOKENS_FILE"), "TOKENS_FILE is not set"))) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
assert(#tokens > 0, "TOKENS_FILE has no token")

local body = '{"type":"RaadpleegMetBurgerservicenummer","burgerservicenummer":["999993653"],"fields":["naam","geboorte"]}'
local requests = {}
local turn = 0

-- Formatted once per thread (wrk.format adds Host and Content-Length): the generator's work per
-- request is the same for 1 or N tokens.
function init(args)
  for i, token in ipairs(tokens) do
    requests[i] = wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
      ["X-User"] = "bench-user",
      ["X-Correlation-ID"] = "bench-correlation-0001",
      ["X-Task-Description"] = "anchorbench load test",
    }, body)
  end
end

function request()
  turn = turn % #requests + 1
  return requests[turn]
end

function done(summary, latency)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"lat_p50_us":%d,"lat_p99_us":%d,"lat_max_us":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
