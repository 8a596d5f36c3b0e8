-- wrk script: POST one submission per request, each with a fresh instanceID.
-- Set by the runner through the environment: BENCH_AUTH (Basic credentials, base64; empty for
-- an app user's key path, whose URL is its credential), BENCH_TEMPLATE (the submission XML
-- with the text INSTANCE_ID where the id goes), BENCH_PATH (where to POST: /submission by
-- default), BENCH_RAW=1 to send the XML itself as the body (the Central API's create) rather
-- than Collect's multipart body, and BENCH_CLOSE=1 to ask for a new connection per request
-- (the warm-up).

-- Globals, not locals: setup() runs in wrk's main Lua state and hands each thread its own
-- number and tag through thread:set, which sets globals of that thread's state. (A file-level
-- `local thread_id` would shadow the value set and give every thread the same ids.)
counter = 0
threads = {}
local boundary = "----dmipbenchboundary7MA4YWxkTrZu0gW"

math.randomseed(os.time())
local main_tag = string.format("%x-%x", os.time(), math.random(0, 0xFFFFFF))

function setup(thread)
  thread:set("thread_id", #threads + 1)
  thread:set("run_tag", main_tag)
  table.insert(threads, thread)
end

function init(args)
  template = os.getenv("BENCH_TEMPLATE")
  auth = os.getenv("BENCH_AUTH")
  close = os.getenv("BENCH_CLOSE") == "1"
  path = os.getenv("BENCH_PATH") or "/submission"
  raw = os.getenv("BENCH_RAW") == "1"
end

request = function()
  counter = counter + 1
  local id = string.format("uuid:%s-%d-%d", run_tag, thread_id, counter)
  local xml = string.gsub(template, "INSTANCE_ID", id)
  local headers = {}
  local body = xml
  if raw then
    headers["Content-Type"] = "application/xml"
  else
    body = "--" .. boundary .. "\r\n" ..
      'Content-Disposition: form-data; name="xml_submission_file"; filename="submission.xml"\r\n' ..
      "Content-Type: text/xml\r\n\r\n" .. xml .. "\r\n--" .. boundary .. "--\r\n"
    headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
    headers["X-OpenRosa-Version"] = "1.0"
  end
  if auth and auth ~= "" then
    headers["Authorization"] = "Basic " .. auth
  end
  if close then
    headers["Connection"] = "close"
  end
  return wrk.format("POST", path, headers, body)
end

local non201 = 0
response = function(status, headers, body)
  -- Collect's endpoint answers 201, the Central API's create 200.
  if status ~= 201 and not (raw and status == 200) then
    non201 = non201 + 1
    if non201 <= 3 then
      io.stderr:write("unexpected status " .. status .. ": " .. body:sub(1, 300) .. "\n")
    end
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    "JSON {\"requests\": %d, \"duration_us\": %d, \"errors_status\": %d, " ..
    "\"errors_connect\": %d, \"errors_read\": %d, \"errors_timeout\": %d, " ..
    "\"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.timeout, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
