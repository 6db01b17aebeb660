-- SPF fail raises a backup-first client to action_bot (reject), and the
-- result is in Authentication-Results for a client that is not refused.
dofile(os.getenv("MT_LIB"))
run(function()
	local conn = open("REJECTBOT", "192.0.2.10", "mail.client.example")
	check(message(conn, "<a@fail.test>", "<b@primary.test>") ==
	    SMFIR_REPLYCODE, "SPF-failing backup-first MAIL not refused")
	mt.disconnect(conn)
	conn = open("TAG", "192.0.2.20", "mail.client.example")
	check(message(conn, "<a@fail.test>", "<b@primary.test>") ==
	    SMFIR_CONTINUE, "MAIL not continued")
	check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
	    "primary.test; spf=fail smtp.mailfrom=a@fail.test"),
	    "no spf=fail Authentication-Results")
	mt.disconnect(conn)
end)
