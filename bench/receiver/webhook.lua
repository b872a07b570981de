-- wrk script: POSTs Alertmanager webhook v4 payloads, each with a fresh
-- fingerprint (thread id in the high bits, a counter in the low bits), so every
-- request is a new alert the receiver must commit before answering 200.
-- The token comes from the WEBHOOK_TOKEN environment variable.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("WEBHOOK_TOKEN")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

local template = [[{"version":"4","groupKey":"{}:{sasl_username=\"u%d\"}","truncatedAlerts":0,"status":"firing","receiver":"saslguard","groupLabels":{"sasl_username":"u%d@bench.test"},"commonLabels":{"alertname":"SaslUserSendingSurge"},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093","alerts":[{"status":"firing","labels":{"alertname":"SaslUserSendingSurge","instance":"mx1.bench.test:9754","sasl_username":"u%d@bench.test","severity":"critical","mitigation":"notify"},"annotations":{"summary":"u%d surges","description":"benchmark alert"},"startsAt":"2026-11-23T09:00:00.000Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"%02x%014x"}]}]]

function request()
  counter = counter + 1
  local n = counter
  wrk.body = string.format(template, n, n, n, n, id, n)
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d errors=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
