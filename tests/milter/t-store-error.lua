-- on_store_error = tempfail, and a damaged record for the client (the
-- store fails it): 451 at MAIL FROM, never a verdict.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("BROKEN", "192.0.2.99", "mail.client.example")
	check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
	    SMFIR_REPLYCODE, "MAIL not answered with 451")
	mt.disconnect(conn)
end)
