-- Deletes a fence; the changes set keeps a tombstone so replicas drop it.
-- KEYS as fences_put.lua; ARGV: id
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
local v = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[4], v, ARGV[1])
return 1
