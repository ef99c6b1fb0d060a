package config

import (
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors from DecryptSecret never carry the ciphertext, the password or any
// decrypted bytes, so they are safe to log.
var (
	errEmptyCiphertext = errors.New("ciphertext is empty")
	errBlockSize       = errors.New("ciphertext is not hex, base64 or raw AES blocks (length is not a multiple of 16 bytes)")
	errBadPadding      = errors.New("bad padding after decryption (wrong password or corrupted ciphertext)")
	errNotText         = errors.New("decrypted value is not valid UTF-8 (wrong password or corrupted ciphertext)")
)

// DecryptSecret decrypts an AES-128-ECB ciphertext produced by
// `openssl enc -aes-128-ecb -md md5 -nosalt -pass pass:<password>` (optionally `-a`/base64) or Node's legacy crypto.createCipher('aes-128-ecb', password).
//
// The ciphertext may be hex (as Node's cipher.final('hex') or `xxd -p`
// produce), base64 (as `openssl enc -a` produces, line breaks allowed) or the
// raw binary output. Hex is assumed when the text, ignoring whitespace, is of
// even length and consists only of hex digits; otherwise base64 is tried, and
// failing that the bytes are used as they are.
func DecryptSecret(ciphertext, password string) (string, error) {
	ct, err := decodeCiphertext(ciphertext)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(bytesToKey([]byte(password), aes.BlockSize))
	if err != nil {
		return "", err
	}
	pt := make([]byte, len(ct))
	// ECB: every block is decrypted independently with the same key.
	for off := 0; off < len(ct); off += aes.BlockSize {
		block.Decrypt(pt[off:off+aes.BlockSize], ct[off:off+aes.BlockSize])
	}
	pt, err = unpadPKCS7(pt)
	if err != nil {
		return "", err
	}
	// A wrong key still yields valid padding about once in 256 tries; the
	// secrets handled here are text, so garbage is rejected rather than
	// passed on as a credential that fails much later and less clearly.
	if !utf8.Valid(pt) {
		return "", errNotText
	}
	return string(pt), nil
}

// bytesToKey is OpenSSL's EVP_BytesToKey with MD5, one iteration and no salt:
// D_1 = MD5(password), D_i = MD5(D_{i-1} || password), key = D_1 || D_2 || …
// truncated to keyLen. Node's createCipher uses the same derivation. ECB
// needs no IV, so only the key part is produced.
func bytesToKey(password []byte, keyLen int) []byte {
	var key, prev []byte
	for len(key) < keyLen {
		h := md5.New()
		h.Write(prev)
		h.Write(password)
		prev = h.Sum(nil)
		key = append(key, prev...)
	}
	return key[:keyLen]
}

func decodeCiphertext(s string) ([]byte, error) {
	compact := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	if compact == "" {
		return nil, errEmptyCiphertext
	}
	var ct []byte
	if len(compact)%2 == 0 && isHex(compact) {
		ct, _ = hex.DecodeString(compact)
	} else {
		for _, enc := range []*base64.Encoding{
			base64.StdEncoding, base64.RawStdEncoding,
			base64.URLEncoding, base64.RawURLEncoding,
		} {
			if b, err := enc.DecodeString(compact); err == nil {
				ct = b
				break
			}
		}
		if ct == nil {
			// Raw `openssl enc` output without -a: use the original
			// bytes, whitespace included, since 0x20 etc. are valid
			// ciphertext bytes.
			ct = []byte(s)
		}
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errBlockSize
	}
	return ct, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// unpadPKCS7 strips and validates PKCS#7 padding: the last byte n must be
// 1..16 and the last n bytes must all equal n. Validation is the main way a
// wrong password is detected, since ECB has no authentication.
func unpadPKCS7(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, errBadPadding
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, errBadPadding
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errBadPadding
		}
	}
	return b[:len(b)-n], nil
}
