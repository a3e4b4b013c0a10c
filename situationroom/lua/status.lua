-- status_of: a value's place on the one status scale (situationroom/status.py), included by the scripts
-- that judge values (apply.lua, restatus.lua).

-- Highest level first.
local LEVELS = {"severe", "critical", "warning", "info"}

-- th = {dir, severe, critical, warning, info}; a series without any threshold is "none" (기준 없음):
-- nothing says its value is all right, so it is never "normal".
local function status_of(v, th)
  local sign = 1
  if th[1] == "below" then sign = -1 end
  local any = false
  for k = 1, 4 do
    local limit = th[k + 1]
    if limit ~= nil then
      any = true
      if sign * (v - limit) >= 0 then return LEVELS[k] end
    end
  end
  if any then return "normal" end
  return "none"
end
