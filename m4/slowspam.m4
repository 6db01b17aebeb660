dnl SS_CHECK_CFLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT])
dnl Does the C compiler accept FLAG (as a warning, an error counts as no)?
AC_DEFUN([SS_CHECK_CFLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	ss_save_CFLAGS=$CFLAGS
	ss_save_LDFLAGS=$LDFLAGS
	CFLAGS="$CFLAGS -Werror $1"
	LDFLAGS="$LDFLAGS $1"
	AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
	    [AC_MSG_RESULT([yes]); $2], [AC_MSG_RESULT([no]); $3])
	CFLAGS=$ss_save_CFLAGS
	LDFLAGS=$ss_save_LDFLAGS
])
