-- Our Authentication-Results header is folded (LF and a tab, as libmilter
-- wants it) so that no line is over 78 octets where the words allow, and
-- none ever over 998 (RFC 5322), however long MAIL FROM or HELO is.
dofile(os.getenv("MT_LIB"))

local AR = "Authentication-Results"

-- Every line of the value v, after "Authentication-Results: " on the
-- first, at most max octets; lines after the first start with a tab.
local function lines_ok(v, max)
	local first = true
	for line in (v .. "\n"):gmatch("(.-)\n") do
		local n = #line + (first and #AR + 2 or 0)
		if n > max or line:find("\r") or
		    (not first and line:sub(1, 1) ~= "\t") then
			return false
		end
		first = false
	end
	return true
end

run(function()
	local from = "<" .. string.rep("x", 50) .. "@pass.test>"
	local conn = open("TAG", "192.0.2.20", "mail.client.example")
	check(message(conn, from, "<b@primary.test>") == SMFIR_CONTINUE,
	    "MAIL not continued")
	check(mt.eom_check(conn, MT_HDRINSERT, AR, "primary.test; spf=pass\n" ..
	    "\tsmtp.mailfrom=" .. from:sub(2, -2)), "A-R not folded at 78")
	mt.disconnect(conn)

	-- A null sender with a 1020-octet HELO (miltertest takes no more):
	-- no line can hold smtp.helo=..., the value is left out.
	conn = open("TAG", "192.0.2.20", string.rep("h", 1020))
	check(message(conn, "<>", "<b@primary.test>") == SMFIR_CONTINUE,
	    "MAIL not continued")
	check(mt.eom_check(conn, MT_HDRINSERT, AR), "no A-R")
	local v = mt.getheader(conn, AR, 0)
	check(v ~= nil, "no A-R value")
	check(lines_ok(v, 998), "A-R line over 998 octets: " .. #v)
	check(not v:find("hhhhhhhhhh"), "the 1020-octet HELO is in the A-R")
	mt.disconnect(conn)
end)
