-- Commits the geofence detection state of several devices of one tenant
-- with the events each caused. Per device, atomically: its state string is
-- replaced only if its version (the text before the first '|') is still the
-- one read, else the device is returned as a conflict (the caller reads it
-- again); its events are appended to the tenant's event log (trimmed to the
-- retention) and, with an outbox capacity, queued in the tenant's outbox.
-- KEYS: 1 event log STREAM, 2 outbox STREAM, 2+d the state of device d
-- ARGV: 1 ttl ms, 2 event log min id, 3 outbox capacity (0 = no outbox),
--       4 devices n, 5 events in all, then per device: expected version
--       ('' = none), new state, its number of events; then per event: ce,
--       type, id, source, subject, time ms, traceparent, data
-- A full outbox fails the call before any write (error reply OUTBOXFULL).
local ttl, minid = ARGV[1], ARGV[2]
local capacity, n, total = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if capacity > 0 and total > 0 then
  local depth = redis.call('XLEN', KEYS[2])
  if depth + total > capacity then
    return redis.error_reply('OUTBOXFULL the event outbox holds ' .. depth .. ' of ' .. capacity .. ' events')
  end
end
local conflicts = {}
local a = 6
local e = 6 + 3 * n
for d = 1, n do
  local expected, state, ne = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  local cur = redis.call('GET', KEYS[2 + d])
  local version = ''
  if cur then version = string.match(cur, '^([^|]*)') end
  if version ~= expected then
    conflicts[#conflicts + 1] = d
    e = e + 8 * ne
  else
    redis.call('SET', KEYS[2 + d], state, 'PX', ttl)
    for k = 1, ne do
      redis.call('XADD', KEYS[1], 'MINID', '~', minid, '*', 'ce', ARGV[e])
      if capacity > 0 then
        redis.call('XADD', KEYS[2], '*', 'type', ARGV[e + 1], 'id', ARGV[e + 2], 'source', ARGV[e + 3],
          'subject', ARGV[e + 4], 'time', ARGV[e + 5], 'trace', ARGV[e + 6], 'data', ARGV[e + 7])
      end
      e = e + 8
    end
  end
end
return conflicts
