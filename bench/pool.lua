-- wrk script for bench/run.py: cycle through pre-built request bodies, check every answer,
-- and print one machine-readable result line.
--
--   wrk ... -s bench/pool.lua http://127.0.0.1:PORT -- POOL_PREFIX REQUEST_PATH
--
-- Thread k (0-based) reads POOL_PREFIX.k.xml, one XML body per line, in init() (before it
-- sends anything), so every thread owns a disjoint set of bodies (distinct out_trade_no).
-- response() counts non-200 answers and bodies with a field whose whole value is FAIL
-- (return_code or result_code FAIL; a random nonce_str may contain the letters); done() prints "BENCH_JSON {...}" with wrk's summary, latency percentiles (ms) and the
-- per-thread counters. Note: wrk calls request() once on thread 0 before the run to check the
-- request (that body is never sent), so "sent" over-counts thread 0 by one.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   local prefix, target = args[1], args[2]
   local headers = { ["Content-Type"] = "text/xml; charset=utf-8" }
   pool = {}
   local file = assert(io.open(prefix .. "." .. tid .. ".xml", "rb"))
   for line in file:lines() do
      if #line > 0 then
         pool[#pool + 1] = wrk.format("POST", target, headers, line)
      end
   end
   file:close()
   size = #pool
   assert(size > 0, "empty request pool for thread " .. tid)
   nxt, sent, wraps, ok, bad_status, fail_body = 0, 0, 0, 0, 0, 0
   first_bad = nil
end

function request()
   nxt = nxt + 1
   if nxt > size then
      nxt = 1
      wraps = wraps + 1
   end
   sent = sent + 1
   return pool[nxt]
end

function response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
      first_bad = first_bad or ("HTTP " .. status .. " " .. string.sub(body or "", 1, 400))
   elseif body == nil or string.find(body, "<![CDATA[FAIL]]>", 1, true)
      or string.find(body, ">FAIL<", 1, true) then
      fail_body = fail_body + 1
      first_bad = first_bad or string.sub(body or "", 1, 400)
   else
      ok = ok + 1
   end
end

local function quote(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

local function num(x)
   return string.format("%.3f", x or 0)
end

function done(summary, latency, requests)
   local names = { "sent", "wraps", "ok", "bad_status", "fail_body" }
   local totals, rows, sample = {}, {}, nil
   for _, name in ipairs(names) do
      totals[name] = 0
   end
   for _, t in ipairs(threads) do
      local fields = { '"tid":' .. t:get("tid") }
      for _, name in ipairs(names) do
         local v = t:get(name) or 0
         totals[name] = totals[name] + v
         fields[#fields + 1] = quote(name) .. ":" .. v
      end
      sample = sample or t:get("first_bad")
      rows[#rows + 1] = "{" .. table.concat(fields, ",") .. "}"
   end
   local pct = {}
   for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
      pct[#pct + 1] = quote(tostring(p)) .. ":" .. num(latency:percentile(p) / 1000)
   end
   local e = summary.errors
   local out = {
      '"duration_s":' .. num(summary.duration / 1e6),
      '"requests":' .. summary.requests,
      '"bytes":' .. summary.bytes,
      '"rps":' .. num(summary.requests / (summary.duration / 1e6)),
      '"latency_ms":{"mean":' .. num(latency.mean / 1000) .. ',"stdev":'
         .. num(latency.stdev / 1000) .. ',"max":' .. num(latency.max / 1000)
         .. ',"percentiles":{' .. table.concat(pct, ",") .. "}}",
      '"socket_errors":{"connect":' .. e.connect .. ',"read":' .. e.read .. ',"write":'
         .. e.write .. ',"timeout":' .. e.timeout .. ',"status":' .. e.status .. "}",
      '"sent":' .. totals.sent,
      '"wraps":' .. totals.wraps,
      '"ok":' .. totals.ok,
      '"bad_status":' .. totals.bad_status,
      '"fail_body":' .. totals.fail_body,
      '"first_bad":' .. (sample and quote(sample) or "null"),
      '"threads":[' .. table.concat(rows, ",") .. "]",
   }
   io.write("BENCH_JSON {" .. table.concat(out, ",") .. "}\n")
end
