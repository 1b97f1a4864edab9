/*
 * sieve_parse.c - the Sieve grammar (RFC 5228 section 8.2) into a tree.
 *
 *	commands  = *command
 *	command   = identifier arguments (";" / block)
 *	arguments = *argument [test / test-list]
 *	argument  = string-list / number / tag
 *	test      = identifier arguments
 *	test-list = "(" test *("," test) ")"
 *	block     = "{" commands "}"
 *
 * Recursive descent bounded by max_nesting, so hostile input cannot
 * exhaust the stack.
 */
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve_int.h"

struct parser {
	struct sv_lexer lx;
	struct sv_token tok; /* current look-ahead */
	struct sv_errs *errs;
	unsigned max_nesting;
	bool failed;
};

static void advance(struct parser *p)
{
	sv_token_clear(&p->tok);
	sv_lex_next(&p->lx, &p->tok);
	if (p->tok.type == SV_T_ERROR)
		p->failed = true;
}

static const char *tok_desc(const struct sv_token *t)
{
	switch (t->type) {
	case SV_T_EOF:
		return "end of script";
	case SV_T_ERROR:
		return "error";
	case SV_T_IDENT:
		return "identifier";
	case SV_T_TAG:
		return "tagged argument";
	case SV_T_NUMBER:
		return "number";
	case SV_T_STRING:
		return "string";
	case SV_T_LBRACKET:
		return "'['";
	case SV_T_RBRACKET:
		return "']'";
	case SV_T_LPAREN:
		return "'('";
	case SV_T_RPAREN:
		return "')'";
	case SV_T_LBRACE:
		return "'{'";
	case SV_T_RBRACE:
		return "'}'";
	case SV_T_COMMA:
		return "','";
	case SV_T_SEMICOLON:
		return "';'";
	}
	return "token";
}

static void unexpected(struct parser *p, const char *want)
{
	if (!p->failed)
		sv_error(p->errs, p->tok.line, "expected %s but found %s", want,
			 tok_desc(&p->tok));
	p->failed = true;
}

void sv_slist_free(struct sv_slist *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void node_clear(struct sv_node *n)
{
	free(n->name);
	for (size_t i = 0; i < n->nargs; i++) {
		free(n->args[i].tag);
		sv_slist_free(&n->args[i].list);
	}
	free(n->args);
	sv_nodes_free(n->tests, n->ntests);
	sv_nodes_free(n->block, n->nblock);
}

void sv_nodes_free(struct sv_node *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		node_clear(&nodes[i]);
	free(nodes);
}

static void slist_push(struct sv_slist *l, struct sv_token *t)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].s = t->s;
	l->v[l->n].len = (uint32_t)t->len;
	l->v[l->n].vars = 0;
	l->n++;
	t->s = NULL;
}

static int parse_strlist(struct parser *p, struct sv_arg *a)
{
	a->kind = SV_ARG_LIST;
	advance(p); /* '[' */
	for (;;) {
		if (p->tok.type != SV_T_STRING) {
			unexpected(p, "string in string list");
			return -1;
		}
		slist_push(&a->list, &p->tok);
		advance(p);
		if (p->tok.type == SV_T_RBRACKET)
			break;
		if (p->tok.type != SV_T_COMMA) {
			unexpected(p, "',' or ']'");
			return -1;
		}
		advance(p);
	}
	advance(p);
	return 0;
}

static int parse_test(struct parser *p, struct sv_node *n, unsigned depth);

static struct sv_arg *new_arg(struct sv_node *n)
{
	struct sv_arg *a;

	n->args = xrealloc(n->args, (n->nargs + 1) * sizeof(*n->args));
	a = &n->args[n->nargs++];
	memset(a, 0, sizeof(*a));
	return a;
}

static int parse_tests(struct parser *p, struct sv_node *n, unsigned depth)
{
	if (p->tok.type == SV_T_IDENT) {
		n->tests = xcalloc(1, sizeof(*n->tests));
		n->ntests = 1;
		return parse_test(p, &n->tests[0], depth + 1);
	}
	if (p->tok.type != SV_T_LPAREN)
		return 0;
	n->test_list = true;
	advance(p);
	for (;;) {
		n->tests =
		    xrealloc(n->tests, (n->ntests + 1) * sizeof(*n->tests));
		memset(&n->tests[n->ntests], 0, sizeof(*n->tests));
		n->ntests++;
		if (p->tok.type != SV_T_IDENT) {
			unexpected(p, "test");
			return -1;
		}
		if (parse_test(p, &n->tests[n->ntests - 1], depth + 1) < 0)
			return -1;
		if (p->tok.type == SV_T_RPAREN)
			break;
		if (p->tok.type != SV_T_COMMA) {
			unexpected(p, "',' or ')'");
			return -1;
		}
		advance(p);
	}
	advance(p);
	return 0;
}

/* Reads arguments and tests after the identifier (current token). */
static int parse_arguments(struct parser *p, struct sv_node *n, unsigned depth)
{
	if (depth > p->max_nesting) {
		sv_error(p->errs, p->tok.line, "nesting too deep (limit %u)",
			 p->max_nesting);
		p->failed = true;
		return -1;
	}
	n->name = p->tok.s;
	n->line = p->tok.line;
	p->tok.s = NULL;
	advance(p);
	for (;;) {
		struct sv_arg *a;

		switch (p->tok.type) {
		case SV_T_STRING:
			a = new_arg(n);
			a->kind = SV_ARG_STRING;
			a->line = p->tok.line;
			slist_push(&a->list, &p->tok);
			advance(p);
			continue;
		case SV_T_LBRACKET:
			a = new_arg(n);
			a->line = p->tok.line;
			if (parse_strlist(p, a) < 0)
				return -1;
			continue;
		case SV_T_NUMBER:
			a = new_arg(n);
			a->kind = SV_ARG_NUMBER;
			a->line = p->tok.line;
			a->num = p->tok.num;
			advance(p);
			continue;
		case SV_T_TAG:
			a = new_arg(n);
			a->kind = SV_ARG_TAG;
			a->line = p->tok.line;
			a->tag = p->tok.s;
			p->tok.s = NULL;
			advance(p);
			continue;
		default:
			break;
		}
		break;
	}
	return parse_tests(p, n, depth);
}

static int parse_test(struct parser *p, struct sv_node *n, unsigned depth)
{
	return parse_arguments(p, n, depth);
}

static int parse_commands(struct parser *p, struct sv_node **nodes_r,
			  size_t *n_r, unsigned depth, bool in_block);

static int parse_command(struct parser *p, struct sv_node *n, unsigned depth)
{
	if (parse_arguments(p, n, depth) < 0)
		return -1;
	if (p->tok.type == SV_T_SEMICOLON) {
		advance(p);
		return 0;
	}
	if (p->tok.type != SV_T_LBRACE) {
		unexpected(p, "';' or '{'");
		return -1;
	}
	n->has_block = true;
	advance(p);
	if (parse_commands(p, &n->block, &n->nblock, depth + 1, true) < 0)
		return -1;
	advance(p); /* '}' */
	return 0;
}

static int parse_commands(struct parser *p, struct sv_node **nodes_r,
			  size_t *n_r, unsigned depth, bool in_block)
{
	size_t cap = 0;

	if (depth > p->max_nesting) {
		sv_error(p->errs, p->tok.line, "nesting too deep (limit %u)",
			 p->max_nesting);
		p->failed = true;
		return -1;
	}
	for (;;) {
		if (p->failed)
			return -1;
		if (p->tok.type == SV_T_EOF) {
			if (in_block) {
				unexpected(p, "'}'");
				return -1;
			}
			return 0;
		}
		if (p->tok.type == SV_T_RBRACE) {
			if (!in_block) {
				unexpected(p, "command");
				return -1;
			}
			return 0;
		}
		if (p->tok.type != SV_T_IDENT) {
			unexpected(p, "command");
			return -1;
		}
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 8;
			*nodes_r = xrealloc(*nodes_r, cap * sizeof(**nodes_r));
		}
		memset(&(*nodes_r)[*n_r], 0, sizeof(**nodes_r));
		(*n_r)++;
		if (parse_command(p, &(*nodes_r)[*n_r - 1], depth) < 0)
			return -1;
	}
}

int sv_parse(const char *text, size_t len, unsigned max_nesting,
	     struct sv_errs *errs, struct sv_node **nodes_r, size_t *n_r)
{
	struct parser p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.errs = errs;
	p.max_nesting = max_nesting;
	sv_lex_init(&p.lx, text, len, errs);
	*nodes_r = NULL;
	*n_r = 0;
	advance(&p);
	ret = parse_commands(&p, nodes_r, n_r, 0, false);
	if (p.failed)
		ret = -1;
	sv_token_clear(&p.tok);
	if (ret < 0) {
		sv_nodes_free(*nodes_r, *n_r);
		*nodes_r = NULL;
		*n_r = 0;
	}
	return ret;
}
