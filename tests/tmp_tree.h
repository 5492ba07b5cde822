/* tmp_tree.h - removes a unit test's temporary tree of files (a fake /proc). */
#ifndef OBS_TMP_TREE_H
#define OBS_TMP_TREE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int tmp_tree_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes *root and all below it, frees the name and clears it. */
static inline void tmp_tree_remove(char **root)
{
	if (*root)
		nftw(*root, tmp_tree_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(*root);
	*root = NULL;
}

#endif
