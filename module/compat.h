/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel API differences between the supported kernels (6.1 .. 6.12). */
#ifndef _VBALLOON_COMPAT_H
#define _VBALLOON_COMPAT_H

#include <linux/balloon_compaction.h>
#include <linux/mmzone.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/virtio_config.h>

/*
 * Kbuild detects features in the target's headers (VB_HAVE_*) rather than
 * comparing version numbers, which distribution backports make unreliable.
 */

/* 6.11 replaced the callbacks[]/names[] arrays with struct virtqueue_info. */
static inline int vb_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			      struct virtqueue *vqs[],
			      vq_callback_t *callbacks[],
			      const char * const names[])
{
#ifdef VB_HAVE_VQ_INFO
	struct virtqueue_info info[5] = {};	/* the spec's 5 balloon queues */
	unsigned int i;

	if (nvqs > ARRAY_SIZE(info))
		return -EINVAL;
	for (i = 0; i < nvqs; i++) {
		info[i].name = names[i];
		info[i].callback = callbacks[i];
	}
	return virtio_find_vqs(vdev, nvqs, vqs, info, NULL);
#else
	return virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, NULL);
#endif
}

/*
 * The largest buddy order. 6.8 renamed MAX_ORDER (exclusive before 6.4,
 * inclusive from 6.4) to MAX_PAGE_ORDER; MAX_ORDER - 1 is valid for all.
 */
#ifdef MAX_PAGE_ORDER
#define VB_MAX_PAGE_ORDER	MAX_PAGE_ORDER
#else
#define VB_MAX_PAGE_ORDER	(MAX_ORDER - 1)
#endif

/* Pages freed outside the LRU count as progress for the reclaimer. */
static inline void vb_account_reclaimed(unsigned long pages)
{
	if (!current->reclaim_state)
		return;
#ifdef VB_HAVE_RECLAIMED_SLAB
	current->reclaim_state->reclaimed_slab += pages;
#else
	current->reclaim_state->reclaimed += pages;
#endif
}

/*
 * Stable kernels gained balloon_page_finalize() for a page leaving the
 * balloon; before it, balloon_page_delete() did the same (and skips the
 * list_del() for an isolated page).
 */
static inline void vb_balloon_page_finalize(struct page *page)
{
#ifdef VB_HAVE_BALLOON_FINALIZE
	balloon_page_finalize(page);
#else
	balloon_page_delete(page);
#endif
}

typedef unsigned long (*vb_shrink_fn)(struct shrinker *,
				      struct shrink_control *);

/* 6.7 moved shrinkers to shrinker_alloc() with a private_data pointer. */
#ifdef VB_HAVE_SHRINKER_ALLOC
static inline struct shrinker *vb_shrinker_create(const char *name,
						  vb_shrink_fn count,
						  vb_shrink_fn scan, void *priv)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->private_data = priv;
	shrinker_register(s);
	return s;
}

static inline void *vb_shrinker_priv(struct shrinker *s)
{
	return s->private_data;
}

static inline void vb_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
struct vb_shrinker {
	struct shrinker s;
	void *priv;
};

static inline struct shrinker *vb_shrinker_create(const char *name,
						  vb_shrink_fn count,
						  vb_shrink_fn scan, void *priv)
{
	struct vb_shrinker *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return NULL;
	w->s.count_objects = count;
	w->s.scan_objects = scan;
	w->s.seeks = DEFAULT_SEEKS;
	w->priv = priv;
	if (register_shrinker(&w->s, "%s", name)) {
		kfree(w);
		return NULL;
	}
	return &w->s;
}

static inline void *vb_shrinker_priv(struct shrinker *s)
{
	return container_of(s, struct vb_shrinker, s)->priv;
}

static inline void vb_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(container_of(s, struct vb_shrinker, s));
}
#endif

#endif /* _VBALLOON_COMPAT_H */
