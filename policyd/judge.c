/*
 * judge.c - from a policy request to its answer (judge.h).
 *
 * The first request of a session (sessions.h) tells the engine of the
 * connection; a HELO name given or changed, of the HELO; a new message,
 * of MAIL FROM. The answer plan of that message (answer.h) then says
 * what this request gets.
 *
 * A new message is a request at MAIL, always, or a later one (RCPT, DATA,
 * END-OF-MESSAGE) with another instance (without instance, another
 * sender). Postfix sets instance only once the sender restrictions have
 * run and mail_reset() leaves it, so a request at MAIL carries none for
 * the session's first message and the previous message's for the later
 * ones: the first later request adopts the message begun at MAIL, with
 * its own instance, rather than begin another.
 *
 * The plan advances when a request is judged, but the answer may never
 * reach the client (it timed out, the write failed). Postfix then asks
 * the same again on a new connection: a request of the message identical
 * to its last one (the stage, sender, instance, recipient and
 * recipient_count) on another connection gets the last answer again,
 * the plan left as it is. On the same connection it is a new request (a
 * client repeating RCPT TO), judged anew.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "complain.h"
#include "judge.h"
#include "log.h"
#include "store.h"

static struct complaint no_client;

/* The key's parts, their separators and the NUL fit SESSION_KEY_MAX. */
#define FIELD(f)	sizeof(((struct policy_request *)0)->f)
G_STATIC_ASSERT(FIELD(client_address) + FIELD(client_port) +
    FIELD(server_address) + FIELD(server_port) <= SESSION_KEY_MAX);
#undef FIELD

/* Postfix says "unknown" for a name it could not verify or find. */
static const char *
known_name(const struct policy_request *r, enum policy_attr a)
{
	const char *v = policy_value(r, a);

	return v != NULL && v[0] != '\0' && strcmp(v, "unknown") != 0 ?
	    v : NULL;
}

/* The session key: client address and port, server address and port. */
static void
session_key(const struct policy_request *r, char *key)
{
	static const enum policy_attr parts[] = {
		POLICY_CLIENT_ADDRESS, POLICY_CLIENT_PORT,
		POLICY_SERVER_ADDRESS, POLICY_SERVER_PORT,
	};
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
		const char *v = policy_value(r, parts[i]);

		/* Each value fits its buffer, so the key fits (above). */
		n += (size_t)g_snprintf(key + n, SESSION_KEY_MAX - n, "%s%s",
		    i > 0 ? "|" : "", v != NULL ? v : "");
	}
}

/* The first request of a session: the connection. */
static void
judge_connect(struct judge *j, struct psession *p, const struct addr *client,
    const struct policy_request *r)
{
	const char *name = known_name(r, POLICY_CLIENT_NAME);
	bool confirmed = name != NULL;

	/* reverse_client_name is the PTR's name, not verified forward. */
	if (name == NULL)
		name = known_name(r, POLICY_REVERSE_CLIENT_NAME);
	verdict_connect(j->engine, &p->vs, client, name, confirmed,
	    store_now());
	p->connected = true;
}

/* The attribute came with a value too long to keep (proto.h). */
static bool
too_long(const struct policy_request *r, enum policy_attr a)
{
	return (r->toolong & (1u << a)) != 0;
}

/*
 * SMTP AUTH: a sasl_username, even one too long to keep (it is not
 * empty, and a client cannot send it: Postfix sets it).
 */
static bool
authenticated(const struct policy_request *r)
{
	const char *v = policy_value(r, POLICY_SASL_USERNAME);

	return too_long(r, POLICY_SASL_USERNAME) || (v != NULL && v[0] != '\0');
}

/*
 * MAIL FROM to the engine. A sender too long to keep is not the null
 * sender: checking SPF for "" would check the HELO identity in its
 * place. The engine checks SPF only for a client with an address, so
 * this message's check is left out by hiding the address meanwhile.
 */
static enum verdict_do
mail_from(struct judge *j, struct psession *p, const struct policy_request *r)
{
	const char *sender = policy_value(r, POLICY_SENDER);
	bool had_addr = p->vs.have_addr;
	enum verdict_do todo;

	if (!too_long(r, POLICY_SENDER))
		return verdict_mail(j->engine, &p->vs, sender != NULL ? sender :
		    "", authenticated(r));
	if (had_addr && p->vs.setup->conf->milter.spf && !p->vs.exempt)
		log_msg(LOG_INFO, "%s: sender longer than %zu bytes: SPF not "
		    "checked for this message", p->vs.netkey,
		    sizeof(r->sender) - 1);
	p->vs.have_addr = false;
	todo = verdict_mail(j->engine, &p->vs, "", authenticated(r));
	p->vs.have_addr = had_addr;
	return todo;
}

/* A new message: MAIL FROM, and what it will be answered. */
static void
judge_mail(struct judge *j, struct psession *p, const char *id,
    const struct policy_request *r, bool at_mail)
{
	enum verdict_do todo;

	psession_message_clear(p);
	todo = mail_from(j, p, r);
	/* As the milter adds them; a tempfail adds nothing. */
	if (todo != VERDICT_DO_STORE_TEMPFAIL) {
		p->header = verdict_header(&p->vs);
		p->ar = verdict_ar_header_line(&p->vs);
	}
	answer_plan_init(&p->plan, todo == VERDICT_DO_STORE_TEMPFAIL,
	    todo == VERDICT_DO_ACT ? p->vs.action : -1, p->header != NULL,
	    p->ar != NULL);
	p->msg_id = g_strdup(id);
	p->have_msg = true;
	p->adopt = at_mail;
}

/*
 * What makes a request of a message the same one again. No value holds
 * a LF, so the parts cannot run into each other; each is marked given,
 * too long or not given.
 */
static char *
fingerprint(const struct policy_request *r, enum answer_stage stage)
{
	static const enum policy_attr parts[] = {
		POLICY_SENDER, POLICY_INSTANCE, POLICY_RECIPIENT,
		POLICY_RECIPIENT_COUNT,
	};
	GString *f = g_string_new(answer_stage_name(stage));

	for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
		const char *v = policy_value(r, parts[i]);

		g_string_append_printf(f, "\n%c%s", too_long(r, parts[i]) ?
		    '!' : v != NULL ? '+' : '-', v != NULL ? v : "");
	}
	return g_string_free(f, FALSE);
}

/* The same request as the message's last, on another connection. */
static bool
asked_again(const struct psession *p, const char *fp, uint64_t conn)
{
	return p->have_msg && p->last_req != NULL && p->last_conn != conn &&
	    strcmp(p->last_req, fp) == 0;
}

/* Which message the request is about; a new one is judged. */
static void
find_message(struct judge *j, struct psession *p, const char *id,
    const struct policy_request *r, enum answer_stage stage)
{
	if (stage == ANSWER_STAGE_MAIL) {
		judge_mail(j, p, id, r, true);
	} else if (p->have_msg && p->adopt) {
		/* The message begun at MAIL: now its real id. */
		if (strcmp(p->msg_id, id) != 0) {
			g_free(p->msg_id);
			p->msg_id = g_strdup(id);
		}
		p->adopt = false;
	} else if (!p->have_msg || strcmp(p->msg_id, id) != 0) {
		judge_mail(j, p, id, r, false);
	}
}

/* The message this request is about, or NULL before MAIL FROM. */
static const char *
message_id(const struct policy_request *r, enum answer_stage stage)
{
	const char *v = policy_value(r, POLICY_INSTANCE);

	if (stage == ANSWER_STAGE_NONE)
		return NULL;
	if (v != NULL && v[0] != '\0')
		return v;
	v = policy_value(r, POLICY_SENDER);
	return v != NULL ? v : "";
}

/* The text of the action kind for p's message; NULL: none (DUNNO). */
static char *
action_text(const struct psession *p, enum answer_kind kind)
{
	const char *code, *xcode, *text;

	switch (kind) {
	case ANSWER_REJECT:
	case ANSWER_TEMPFAIL:
	case ANSWER_STORE_TEMPFAIL:
		if (!verdict_reply(&p->vs, &code, &xcode, &text))
			return NULL;
		return g_strdup_printf("%s %s %s", code, xcode, text);
	case ANSWER_PREPEND_HEADER:
		return p->header != NULL ? g_strdup_printf("PREPEND %s: %s",
		    VERDICT_HEADER, p->header) : NULL;
	case ANSWER_PREPEND_AR:
		return p->ar != NULL ? g_strdup_printf("PREPEND %s: %s",
		    VERDICT_AR_HEADER, p->ar) : NULL;
	case ANSWER_HOLD:
		return g_strdup_printf("HOLD slowspam: %s",
		    p->vs.msg.why != NULL ? p->vs.msg.why : "verdict");
	case ANSWER_REDIRECT:
		return g_strdup_printf("REDIRECT %s",
		    p->vs.setup->conf->milter.divert_to);
	case ANSWER_DUNNO:
		break;
	}
	return NULL;
}

/* At level debug: what each request was answered. */
static void
log_answer(const struct psession *p, const struct policy_request *r,
    enum answer_stage stage, enum answer_kind kind, bool again)
{
	const char *instance = policy_value(r, POLICY_INSTANCE);
	char addr[ADDR_STRLEN];
	struct log_event e;

	log_event_begin(&e, "answer");
	log_event_str(&e, "client", p->vs.have_addr ?
	    addr_format(&p->vs.addr, addr) : "none");
	log_event_untrusted(&e, "instance", instance != NULL ? instance : "",
	    instance != NULL ? strlen(instance) : 0, LOG_VALUE_MAX);
	log_event_str(&e, "stage", answer_stage_name(stage));
	log_event_str(&e, "answer", answer_kind_name(kind));
	if (again)
		log_event_str(&e, "again", "yes");
	log_event_emit(&e, LOG_DEBUG);
}

/* Remember the message's last request and its answer. */
static void
remember(struct psession *p, char *fp, uint64_t conn, enum answer_kind kind,
    const char *text)
{
	g_free(p->last_req);
	p->last_req = fp;
	p->last_conn = conn;
	p->last_kind = kind;
	g_free(p->last_text);
	p->last_text = g_strdup(text);
}

/* The action for one request of a known client. */
static enum answer_kind
judge_session(struct judge *j, struct psession *p, const struct addr *client,
    const struct policy_request *r, uint64_t conn, char **text)
{
	enum answer_stage stage = answer_stage_parse(policy_value(r,
	    POLICY_PROTOCOL_STATE));
	const char *helo = policy_value(r, POLICY_HELO_NAME), *id;
	enum answer_kind kind;
	char *fp;
	bool again;

	/* A client (Exim's ACLs) that names no stage asks for a message. */
	if (policy_value(r, POLICY_PROTOCOL_STATE) == NULL &&
	    policy_value(r, POLICY_SENDER) != NULL)
		stage = ANSWER_STAGE_RCPT;
	if (!p->connected)
		judge_connect(j, p, client, r);
	if (helo != NULL && helo[0] != '\0' &&
	    (p->vs.helo == NULL || strcmp(p->vs.helo, helo) != 0))
		verdict_helo(j->engine, &p->vs, helo);
	if ((id = message_id(r, stage)) == NULL)
		return ANSWER_DUNNO;
	fp = fingerprint(r, stage);
	if ((again = asked_again(p, fp, conn))) {
		kind = p->last_kind;
		*text = g_strdup(p->last_text);
		p->last_conn = conn;
		g_free(fp);
	} else {
		find_message(j, p, id, r, stage);
		kind = answer_next(&p->plan, stage);
		if (kind != ANSWER_DUNNO &&
		    (*text = action_text(p, kind)) == NULL) {
			log_msg(LOG_WARNING, "%s: no text for %s: answering "
			    "DUNNO", p->vs.netkey, answer_kind_name(kind));
			kind = ANSWER_DUNNO;
		}
		remember(p, fp, conn, kind, *text);
	}
	if (log_get_level() >= LOG_DEBUG)
		log_answer(p, r, stage, kind, again);
	return kind;
}

bool
judge_request(struct judge *j, struct verdict_setup *setup,
    const struct policy_request *req, uint64_t conn, void *tag, char *reply,
    size_t *len, enum answer_kind *kind, void **next)
{
	const char *client = policy_value(req, POLICY_CLIENT_ADDRESS);
	char key[SESSION_KEY_MAX];
	g_autofree char *text = NULL;
	struct psession *p;
	struct addr a;

	*kind = ANSWER_DUNNO;
	*next = NULL;
	if (client == NULL || !addr_parse(client, &a)) {
		char shown[4 * 64 + 8];

		log_escape(client != NULL ? client : "", client != NULL ?
		    strlen(client) : 0, 64, shown, sizeof(shown));
		complain(&no_client, LOG_WARNING, "request without a usable "
		    "client_address (\"%s\"%s): answering DUNNO", shown,
		    (req->toolong & (1u << POLICY_CLIENT_ADDRESS)) != 0 ?
		    ", too long" : "");
	} else {
		session_key(req, key);
		if ((p = sessions_acquire(j->sessions, key, setup,
		    g_get_monotonic_time() / 1000, tag)) == NULL)
			return false;
		*kind = judge_session(j, p, &a, req, conn, &text);
		*next = sessions_release(j->sessions, p,
		    g_get_monotonic_time() / 1000);
	}
	if (*kind != ANSWER_DUNNO &&
	    (*len = policy_reply(reply, JUDGE_REPLY_MAX, text,
	    strlen(text))) == 0) {
		log_msg(LOG_WARNING, "%s: the %s answer does not fit a reply "
		    "line: answering DUNNO", client, answer_kind_name(*kind));
		*kind = ANSWER_DUNNO;
	}
	if (*kind == ANSWER_DUNNO)
		*len = policy_reply(reply, JUDGE_REPLY_MAX, "DUNNO", 5);
	return true;
}
