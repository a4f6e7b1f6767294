-- Commits one device's geofence detection state with the events it caused,
-- atomically: the state hash is replaced only if its version is still the
-- one read (else 0: the caller reads again), each event is appended to the
-- tenant's event log (trimmed to the retention) and, when enabled, queued in
-- the tenant's event outbox.
-- KEYS: 1 state HASH, 2 event log STREAM, 3 outbox STREAM
-- ARGV: expected version ('' = none), ttl ms, event log min id, outbox
--       capacity (0 = no outbox), nfields, field/value pairs, nevents, per
--       event: ce, type, id, source, subject, time ms, traceparent, data
-- A full outbox fails the call before any write (error reply OUTBOXFULL).
local cur = redis.call('HGET', KEYS[1], '_v') or ''
if cur ~= ARGV[1] then return 0 end
local capacity = tonumber(ARGV[4])
local nf = tonumber(ARGV[5])
local i = 6
local ne = tonumber(ARGV[i + 2 * nf])
if capacity > 0 and ne > 0 then
  local depth = redis.call('XLEN', KEYS[3])
  if depth + ne > capacity then
    return redis.error_reply('OUTBOXFULL the event outbox holds ' .. depth .. ' of ' .. capacity .. ' events')
  end
end
redis.call('DEL', KEYS[1])
local fields = {}
for k = 1, 2 * nf do fields[k] = ARGV[i + k - 1] end
i = i + 2 * nf
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
i = i + 1
for e = 1, ne do
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*', 'ce', ARGV[i])
  if capacity > 0 then
    redis.call('XADD', KEYS[3], '*', 'type', ARGV[i + 1], 'id', ARGV[i + 2], 'source', ARGV[i + 3],
      'subject', ARGV[i + 4], 'time', ARGV[i + 5], 'trace', ARGV[i + 6], 'data', ARGV[i + 7])
  end
  i = i + 8
end
return 1
