-- Exempt: a trusted network and an allow-listed HELO domain.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("TEMPFAIL", "192.0.2.40", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "trusted network refused")
	check(not mt.eom_check(conn, MT_HDRADD, "X-Slowspam"), "trusted tagged")
	mt.disconnect(conn)
	conn = open("TEMPFAIL", "192.0.2.10", "mx.partner.test")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "allow-listed HELO refused")
	mt.disconnect(conn)
end)
