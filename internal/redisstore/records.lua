-- History records (see histcodec.go): the functions save.lua and trim.lua
-- share, prepended to each. Only the ts offset and the length of a record
-- are read here.
local OPTIONAL_WIDTH = {3, 2, 2, 2, 2} -- alt, acc, speed, heading, battery
local fixedLen = {}                    -- flags*256+ext -> length without attrs

local function recordFixedLen(flags, ext)
  local k = flags * 256 + ext
  local n = fixedLen[k]
  if n == nil then
    n = 4
    if bit.band(flags, 128) ~= 0 then n = n + 1 end
    if bit.band(flags, 64) ~= 0 then n = n + 16 else n = n + 8 end
    for i = 0, 4 do
      if bit.band(flags, bit.lshift(1, i)) ~= 0 then
        if bit.band(ext, bit.lshift(1, i)) ~= 0 then n = n + 8 else n = n + OPTIONAL_WIDTH[i + 1] end
      end
    end
    fixedLen[k] = n
  end
  return n
end

-- recordAt returns the ts offset (ms) of the record starting at p in s and
-- the position just after it; nil at the end of s or on a damaged record.
local function recordAt(s, p)
  local b1, b2, b3, flags = string.byte(s, p, p + 3)
  if flags == nil then return nil end
  local ext = 0
  if flags >= 128 then ext = string.byte(s, p + 4) or 0 end
  local q = p + recordFixedLen(flags, ext)
  if bit.band(flags, 32) ~= 0 then
    local l1, l2, l3 = string.byte(s, q, q + 2)
    if l3 == nil then return nil end
    q = q + 3 + l1 * 65536 + l2 * 256 + l3
  end
  if q > #s + 1 then return nil end
  return b1 * 65536 + b2 * 256 + b3, q
end
