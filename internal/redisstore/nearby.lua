-- Nearby search in one round trip: GEOSEARCH the tenant's geo set, then the
-- latest fix JSON of each hit from the last hash.
-- KEYS[1] geo, KEYS[2] last; ARGV lon, lat, radius (m), count.
-- Returns a flat list: distance (m, string), fix JSON, ... nearest first.
local hits = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],
  'BYRADIUS', ARGV[3], 'm', 'ASC', 'COUNT', ARGV[4], 'WITHDIST')
local out = {}
local CHUNK = 500
for i = 1, #hits, CHUNK do
  local j = math.min(i + CHUNK - 1, #hits)
  local names = {}
  for k = i, j do names[#names + 1] = hits[k][1] end
  local vals = redis.call('HMGET', KEYS[2], unpack(names))
  for k = i, j do
    local v = vals[k - i + 1]
    if v then -- a device erased meanwhile has no latest fix
      out[#out + 1] = hits[k][2]
      out[#out + 1] = v
    end
  end
end
return out
