-- A forged Authentication-Results claims our authserv-id (primary.test)
-- in any form RFC 8601 allows, or a reader may take for it: quoted, with
-- quoted-pairs, in another case, with a trailing dot, after a comment.
-- Each is removed; an A-R of another id, or of a longer one, stays.
dofile(os.getenv("MT_LIB"))

-- Does a message with this A-R header (after one of another server) get
-- an A-R header removed?
local function removed(value)
	local conn = open("TAG", "192.0.2.20", "mail.client.example")
	check(mt.mailfrom(conn, "<a@pass.test>") == nil, "mailfrom")
	check(mt.rcptto(conn, "<b@primary.test>") == nil, "rcptto")
	check(mt.header(conn, "Authentication-Results",
	    "other.example; spf=pass smtp.mailfrom=a@pass.test") == nil, "h1")
	check(mt.header(conn, "Authentication-Results", value) == nil, "h2")
	check(mt.eom(conn) == nil, "eom")
	local r = mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results")
	mt.disconnect(conn)
	return r
end

run(function()
	for _, v in ipairs({
	    '"primary.test"; dkim=pass',
	    'PRIMARY.TEST.; dkim=pass',
	    '"Primary.Test."; dkim=pass',
	    '(ours) "prim\\ary.test" ; dkim=pass',
	    '\n\t"primary.test" (folded); dkim=pass',
	}) do
		check(removed(v), "forged A-R kept: " .. v)
	end
	for _, v in ipairs({
	    '"primary.test.example"; dkim=pass',
	    'primary.test..; dkim=pass',
	    '"primary.test; dkim=pass',
	}) do
		check(not removed(v), "A-R of another id removed: " .. v)
	end
end)
