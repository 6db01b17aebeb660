-- Exempt: a trusted network, and an allow-listed domain (partner.test)
-- only as a name the client cannot simply claim: its reverse-DNS name
-- when the MTA says {client_resolve} = OK (forward-confirmed), or its
-- HELO name when SPF for that name passes. Saying HELO mx.partner.test,
-- or a reverse name that is forged or unverified, exempts nobody.
dofile(os.getenv("MT_LIB"))

-- A client at ip (the tar pit saw .10 first: tempfail, unless exempt).
local function mail(ip, helo, host, macros)
	local conn = open("TEMPFAIL", ip, helo, host, macros)
	local r = message(conn, "<a@pass.test>", "<b@primary.test>")
	local tagged = r == SMFIR_CONTINUE and
	    mt.eom_check(conn, MT_HDRADD, "X-Slowspam")
	mt.disconnect(conn)
	return r, tagged
end

run(function()
	local r, tagged = mail("192.0.2.40", "mail.client.example")
	check(r == SMFIR_CONTINUE and not tagged, "trusted network not exempt")
	r = mail("192.0.2.10", "mx.partner.test", "mx.partner.test",
	    { "{client_resolve}", "OK" })
	check(r == SMFIR_CONTINUE, "confirmed reverse name mx.partner.test " ..
	    "not exempt")
	r = mail("192.0.2.10", "mail.client.example", "MX.Partner.Test.",
	    { "{client_resolve}", "OK" })
	check(r == SMFIR_CONTINUE, "confirmed reverse name MX.Partner.Test. " ..
	    "not exempt")
	-- SPF for mx.partner.test passes 192.0.2.10 only.
	r = mail("192.0.2.10", "mx.partner.test")
	check(r == SMFIR_CONTINUE, "HELO mx.partner.test with SPF pass " ..
	    "not exempt")

	r = mail("192.0.2.10", "bot.partner.test")
	check(r == SMFIR_REPLYCODE, "HELO bot.partner.test (no SPF) exempt")
	r = mail("192.0.2.10", "mail.client.example", "mx.partner.test",
	    { "{client_resolve}", "FORGED" })
	check(r == SMFIR_REPLYCODE, "forged reverse name exempt")
	r = mail("192.0.2.10", "mail.client.example", "mx.partner.test",
	    { "{client_resolve}", "TEMP" })
	check(r == SMFIR_REPLYCODE, "unresolved reverse name exempt")
	r = mail("192.0.2.10", "mail.client.example", "mx.partner.test")
	check(r == SMFIR_REPLYCODE, "reverse name without {client_resolve} " ..
	    "exempt")
	-- A bot (the tar pit saw .11 first, with evidence: action_bot = tag)
	-- saying HELO mx.partner.test, for which SPF fails.
	r, tagged = mail("192.0.2.11", "mx.partner.test")
	check(r == SMFIR_CONTINUE and tagged, "bot with HELO mx.partner.test " ..
	    "exempt")
end)
