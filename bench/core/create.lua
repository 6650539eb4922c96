-- wrk script: durable hop-A creates from an independent HTTP client, each
-- request a new pod (the body of ferry-bench's create: the conformance hello
-- pod with its own uid and name). Run by bench/run-core.sh:
--   wrk -t2 -c64 -d5s -s bench/core/create.lua http://127.0.0.1:PORT/create
-- Any answer but 200 is counted by wrk as non-2xx and by done() below.
local counter = 0
local threads = {}

-- uids: the start time (a new run never repeats one: a repeated create would
-- be answered from memory, not stored), the thread, a counter
function setup(thread)
  thread:set("tid", #threads)
  thread:set("seed", os.time())
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local body_fmt = '{"pod":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wrk-%d-%d",' ..
  '"namespace":"bench","uid":"%08x-%04x-4000-8000-%012x"},"spec":{"containers":[{"name":"main",' ..
  '"image":"docker.io/library/busybox:1.36","command":["sh","-c"],"args":["echo hello world"]}],' ..
  '"restartPolicy":"Never"},"status":{"phase":"Pending"}},"configmaps":null,"secrets":null,' ..
  '"projectedvolumesmaps":null,"jobscriptURL":""}'

function request()
  counter = counter + 1
  local body = string.format(body_fmt, tid, counter, seed, tid, counter)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = (bad or 0) + 1
    if bad == 1 then io.stderr:write("create.lua: answer " .. status .. ": " .. body .. "\n") end
  end
end
