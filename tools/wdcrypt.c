// SPDX-License-Identifier: GPL-2.0
/*
 * wdcrypt: encrypt or decrypt a file with AES on a WarpDrive device.
 *
 *   wdcrypt [-d] [-m cbc|ctr] [-D DEVICE] KEYHEX IVHEX IN OUT
 *
 * CBC pads with PKCS#7 (the output of -d is the original file); CTR needs
 * no padding. The file goes through the device in commands of at most the
 * device's max_cmd_len, the IV chained from one command to the next, so
 * the result is that of one AES operation over the whole file (the same
 * as `openssl enc -aes-128-cbc -K KEY -iv IV`).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libwd.h"

#define CHUNK_MAX	(256 * 1024)

static int unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;

	if (strlen(s) % 2)
		return -1;
	while (*s) {
		unsigned int b;

		if (n == max || sscanf(s, "%2x", &b) != 1)
			return -1;
		out[n++] = b;
		s += 2;
	}
	return n;
}

/* The counter block after @blocks more blocks (128-bit big endian). */
static void ctr_add(unsigned char *ctr, size_t blocks)
{
	int i;

	for (i = 15; i >= 0 && blocks; i--) {
		blocks += ctr[i];
		ctr[i] = blocks & 0xff;
		blocks >>= 8;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: wdcrypt [-d] [-m cbc|ctr] [-D DEVICE] KEYHEX IVHEX IN OUT\n"
		   "AES (128/192/256-bit key from its hex length) on a WarpDrive device;\n"
		   "CBC with PKCS#7 padding (default) or CTR.\n");
}

int main(int argc, char **argv)
{
	const char *device = NULL;
	int decrypt = 0, mode = WD_CIPHER_CBC, c, klen, ret = 1;
	unsigned char *key_iv = NULL, *in = NULL, *out = NULL;
	size_t len, chunk, done, cap;
	struct wd_dev *dev = NULL;
	struct wd_queue *q = NULL;
	struct wd_info info;
	FILE *fi = NULL, *fo = NULL;

	while ((c = getopt(argc, argv, "dm:D:h")) != -1) {
		switch (c) {
		case 'd':
			decrypt = 1;
			break;
		case 'm':
			if (!strcmp(optarg, "cbc"))
				mode = WD_CIPHER_CBC;
			else if (!strcmp(optarg, "ctr"))
				mode = WD_CIPHER_CTR;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'D':
			device = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 4) {
		usage(stderr);
		return 2;
	}
	/* Key and IV sit together, as the command names them. */
	key_iv = malloc(64 + 16);
	if (!key_iv)
		return 1;
	klen = unhex(argv[optind], key_iv, 32);
	if ((klen != 16 && klen != 24 && klen != 32) ||
	    unhex(argv[optind + 1], key_iv + klen, 16) != 16) {
		fprintf(stderr, "wdcrypt: key must be 16, 24 or 32 bytes, IV 16, in hex\n");
		return 2;
	}

	fi = fopen(argv[optind + 2], "rb");
	if (!fi) {
		perror(argv[optind + 2]);
		goto out;
	}
	fseek(fi, 0, SEEK_END);
	len = ftell(fi);
	rewind(fi);
	cap = len + 16;
	in = malloc(cap);
	out = malloc(cap);
	if (!in || !out || fread(in, 1, len, fi) != len) {
		fprintf(stderr, "wdcrypt: cannot read %s\n", argv[optind + 2]);
		goto out;
	}
	if (mode == WD_CIPHER_CBC && !decrypt) {
		size_t pad = 16 - len % 16;

		memset(in + len, (int)pad, pad);
		len += pad;
	}
	if (mode == WD_CIPHER_CBC && decrypt && (len % 16 || !len)) {
		fprintf(stderr, "wdcrypt: CBC input is not whole blocks\n");
		goto out;
	}

	ret = device ? wd_open(device, &dev) :
		       wd_open_alg(mode == WD_CIPHER_CBC ? WD_ALG_AES_CBC :
							   WD_ALG_AES_CTR, &dev);
	if (!ret)
		ret = wd_get_info(dev, &info);
	if (!ret)
		ret = wd_queue_get(dev, NULL, &q);
	if (ret) {
		fprintf(stderr, "wdcrypt: %s\n", wd_strerror(ret));
		ret = 1;
		goto out;
	}
	chunk = info.max_cmd_len < CHUNK_MAX ? info.max_cmd_len : CHUNK_MAX;
	chunk &= ~(size_t)15;
	for (done = 0; done < len; done += chunk) {
		size_t n = len - done < chunk ? len - done : chunk;
		unsigned char next_iv[16];

		/* CBC: the next IV is the last ciphertext block of this one. */
		if (mode == WD_CIPHER_CBC && decrypt)
			memcpy(next_iv, in + done + n - 16, 16);
		ret = decrypt ? wd_decrypt(q, mode, key_iv, klen, in + done,
					   out + done, n) :
				wd_encrypt(q, mode, key_iv, klen, in + done,
					   out + done, n);
		if (ret) {
			fprintf(stderr, "wdcrypt: %s\n", wd_strerror(ret));
			ret = 1;
			goto out;
		}
		if (mode == WD_CIPHER_CBC)
			memcpy(key_iv + klen, decrypt ? next_iv :
				out + done + n - 16, 16);
		else
			ctr_add(key_iv + klen, n / 16);
	}
	if (mode == WD_CIPHER_CBC && decrypt) {
		unsigned int pad = out[len - 1];
		size_t i;

		if (!pad || pad > 16) {
			fprintf(stderr, "wdcrypt: bad padding (wrong key?)\n");
			ret = 1;
			goto out;
		}
		for (i = 0; i < pad; i++)
			if (out[len - 1 - i] != pad) {
				fprintf(stderr, "wdcrypt: bad padding (wrong key?)\n");
				ret = 1;
				goto out;
			}
		len -= pad;
	}
	fo = fopen(argv[optind + 3], "wb");
	if (!fo || fwrite(out, 1, len, fo) != len || fclose(fo)) {
		perror(argv[optind + 3]);
		fo = NULL;
		ret = 1;
		goto out;
	}
	fo = NULL;
	ret = 0;
out:
	if (fi)
		fclose(fi);
	wd_close(dev);
	free(in);
	free(out);
	free(key_iv);
	return ret;
}
