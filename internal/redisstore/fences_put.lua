-- Creates or replaces fences of one tenant, within its quota, and bumps the
-- tenant's fence version (detection replicas poll it).
-- KEYS: 1 fences HASH id->Feature, 2 ids ZSET (lex order), 3 version, 4 changes ZSET id->version
-- ARGV: quota, n, then n pairs id, Feature JSON
local quota, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local new = 0
for i = 1, n do
  if redis.call('HEXISTS', KEYS[1], ARGV[1 + 2 * i]) == 0 then new = new + 1 end
end
local have = redis.call('HLEN', KEYS[1])
if have + new > quota then
  return redis.error_reply('QUOTA ' .. have .. ' ' .. new)
end
local v = redis.call('INCR', KEYS[3])
for i = 1, n do
  local id = ARGV[1 + 2 * i]
  redis.call('HSET', KEYS[1], id, ARGV[2 + 2 * i])
  redis.call('ZADD', KEYS[2], 0, id)
  redis.call('ZADD', KEYS[4], v, id)
end
return v
