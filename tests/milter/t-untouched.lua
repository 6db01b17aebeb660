-- A client the tar pit never saw, one the primary saw first, and one whose
-- record the store fails to read (on_store_error = accept): no tag.
dofile(os.getenv("MT_LIB"))
run(function()
	for _, ip in ipairs({ "192.0.2.20", "192.0.2.21", "192.0.2.99" }) do
		local conn = open("TAG", ip, "mail.client.example")
		check(message(conn, "<a@pass.test>", "<b@primary.test>") ==
		    SMFIR_CONTINUE, "MAIL not continued")
		check(not mt.eom_check(conn, MT_HDRADD, "X-Slowspam"),
		    ip .. ": tagged")
		mt.disconnect(conn)
	end
end)
