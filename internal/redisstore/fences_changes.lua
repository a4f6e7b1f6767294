-- The fences changed after a version: the version, then id, Feature (false
-- when deleted) pairs.
-- KEYS as fences_put.lua; ARGV: since
local out = {redis.call('GET', KEYS[3]) or '0'}
local ids = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. ARGV[1], '+inf')
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id)
end
return out
