-- Fires one alert atomically: skipped when its id exists (the cause came
-- again) or the rule's cooldown for the device runs; else the alert record,
-- the tenant's alert index, the delivery queue and its schedule, and the
-- tenant event log are written together.
-- KEYS[1] alert hash, [2] alert index, [3] cooldown hash, [4] queue,
-- [5] due, [6] event log, [7] event outbox (issue 16 layout), [8] uplink
-- ARGV[1] id, [2] cooldown field, [3] now ms, [4] cooldown ms,
-- [5] retention ms, [6] queue member, [7] CloudEvent JSON, [8] rule,
-- [9] rule name, [10] kind, [11] device, [12] event log MINID,
-- [13] outbox capacity (0: no sink, nothing queued), [14] event type,
-- [15] source, [16] event data JSON, [17] edge node ("": the cloud)
-- Returns 0 queued, 1 duplicate, 2 suppressed; error OUTBOXFULL before
-- any write when the outbox is at capacity.
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local capacity = tonumber(ARGV[13])
if capacity > 0 and redis.call('XLEN', KEYS[7]) >= capacity then
  return redis.error_reply('OUTBOXFULL event outbox of the tenant holds ' .. capacity .. ' events')
end
local now = tonumber(ARGV[3])
local cooldown = tonumber(ARGV[4])
if cooldown > 0 then
  local last = redis.call('HGET', KEYS[3], ARGV[2])
  if last and now - tonumber(last) < cooldown then return 2 end
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'rule', ARGV[8], 'name', ARGV[9], 'kind', ARGV[10], 'device', ARGV[11],
  'fired', ARGV[3], 'ce', ARGV[7], 'queue', ARGV[6], 'state', 'pending', 'attempts', 0, 'since', ARGV[3])
if ARGV[17] ~= '' then
  -- An edge node's alert: its record goes up to the cloud (alerts_edge.go);
  -- marks older than the retention are of expired alerts.
  redis.call('HSET', KEYS[1], 'node', ARGV[17])
  redis.call('ZADD', KEYS[8], now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', '(' .. tostring(now - tonumber(ARGV[5])))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. tostring(now - tonumber(ARGV[5])))
redis.call('RPUSH', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], 'NX', now, ARGV[6])
redis.call('XADD', KEYS[6], 'MINID', '~', ARGV[12], '*', 'ce', ARGV[7])
if capacity > 0 then
  redis.call('XADD', KEYS[7], '*', 'type', ARGV[14], 'id', ARGV[1], 'source', ARGV[15], 'subject', ARGV[11],
    'time', ARGV[3], 'trace', '', 'data', ARGV[16])
end
return 0
