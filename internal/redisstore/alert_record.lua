-- Records one delivery attempt of the head of a queue.
-- KEYS[1] alert hash, [2] queue, [3] due, [4] dead letters, [5] uplink
-- ARGV[1] id, [2] delivered|retry|dead, [3] now ms, [4] attempts,
-- [5] status, [6] error, [7] next attempt ms, [8] queue member
-- Returns 0 when the alert no longer heads the queue (nothing changed).
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'attempts', ARGV[4], 'status', ARGV[5], 'error', ARGV[6])
if ARGV[2] == 'retry' then
  redis.call('HSET', KEYS[1], 'next', ARGV[7])
  redis.call('ZADD', KEYS[3], 'XX', ARGV[7], ARGV[8])
  return 1
end
redis.call('LPOP', KEYS[2])
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'done', ARGV[3])
redis.call('HDEL', KEYS[1], 'next')
if ARGV[2] == 'dead' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1]) end
-- An edge node's alert: its final state goes up to the cloud, marked later
-- than any mark it has (an ack of an older mark leaves this one).
if redis.call('HEXISTS', KEYS[1], 'node') == 1 then
  local mark = tonumber(ARGV[3])
  local had = redis.call('ZSCORE', KEYS[5], ARGV[1])
  if had and tonumber(had) >= mark then mark = tonumber(had) + 1 end
  redis.call('ZADD', KEYS[5], mark, ARGV[1])
end
if redis.call('LLEN', KEYS[2]) > 0 then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[8])
else
  redis.call('ZREM', KEYS[3], ARGV[8])
end
return 1
