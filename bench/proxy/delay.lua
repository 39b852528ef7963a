-- Closed-loop rate limit for wrk (wrk2 is not in Debian): each connection waits `ms` between
-- requests, so -c N gives about N * 1000 / ms requests per second. Latency wrk reports excludes
-- the wait. Set with WRK_DELAY_MS.
local ms = tonumber(os.getenv("WRK_DELAY_MS") or "10")
function delay()
  return ms
end
