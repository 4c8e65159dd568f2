package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// mgetAnswer is an _mget answer of 1,000 found documents of about 2 KB
// each, built once: the shape the job reads millions of documents in.
var mgetAnswer = sync.OnceValue(func() []byte { return mgetBody(1000, 1) })

// Words and phrases for Commons-like file metadata. Some hold raw UTF-8,
// some JSON escapes as Elasticsearch sends them back when the indexed
// source had them (\" \\ \n \/ \u00e9 and a surrogate pair).
var (
	benchWords = []string{
		"Eiffel", "Tower", "night", "Paris", "bridge", "river", "cathedral", "museum",
		"panorama", "station", "harbour", "mountain", "village", "church", "portrait",
		"Zürich", "Kraków", "São Paulo", "Москва", "東京", "القاهرة", "Åland", "Reykjavík",
	}
	benchPhrases = []string{
		`View of the \"old town\" from the castle hill`,
		`Caf\u00e9 de Flore, boulevard Saint-Germain`,
		`Photographed by the uploader; see \\\\archive\\scans for the originals`,
		`First line\nSecond line\tindented`,
		`https:\/\/commons.wikimedia.org\/wiki\/Main_Page`,
		`Emoji in a caption: \ud83d\udcf7 and raw 📷`,
		`Église Saint-Étienne-du-Mont, façade occidentale`,
		`Ночной вид на Кремль с Большого Москворецкого моста`,
		`Plain ASCII text describing the picture in some detail, as most descriptions are.`,
	}
	benchLicenses = []string{"CC BY-SA 4.0", "CC BY 2.0", "Public domain", "CC0", "GFDL"}
	benchMimes    = []string{"image/jpeg", "image/png", "image/svg+xml", "image/tiff", "application/pdf"}
)

// mgetBody builds an _mget answer of n documents, deterministic by seed.
func mgetBody(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var b bytes.Buffer
	b.WriteString(`{"docs":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"_index":"commons","_id":"M%d","_version":1,"_seq_no":%d,"_primary_term":1,"found":true,"_source":`,
			10_000_000+i*7, i)
		commonsSource(&b, r, i)
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	if !json.Valid(b.Bytes()) {
		panic("mgetBody: not JSON")
	}
	return b.Bytes()
}

// commonsSource writes a _source shaped like Wikimedia Commons file
// metadata: title, descriptions, categories, image info, extmetadata,
// coordinates and revisions, about 2 KB.
func commonsSource(b *bytes.Buffer, r *rand.Rand, i int) {
	word := func() string { return benchWords[r.IntN(len(benchWords))] }
	phrase := func() string { return benchPhrases[r.IntN(len(benchPhrases))] }
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	title := word() + " " + word() + " " + strconv.Itoa(r.IntN(9999))
	fmt.Fprintf(b, `{"pageid":%d,"ns":6,"title":"File:%s.jpg","description":{"en":"%s %s. %s","fr":"%s — %s","de":"%s"},`,
		i+123456, title, phrase(), word(), phrase(), phrase(), word(), phrase())
	b.WriteString(`"categories":[`)
	for j := range 3 + r.IntN(6) {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, `"Category:%s of %s in %d"`, word(), word(), 1900+r.IntN(125))
	}
	fmt.Fprintf(b, `],"imageinfo":{"timestamp":"20%02d-%02d-%02dT%02d:%02d:%02dZ","user":"%s%d","userid":%d,"size":%d,"width":%d,"height":%d,"mime":"%s","sha1":"%016x%016x",`,
		10+r.IntN(15), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
		word(), r.IntN(1000), r.IntN(5_000_000), r.IntN(50_000_000), 100+r.IntN(8000), 100+r.IntN(6000),
		pick(benchMimes), r.Uint64(), r.Uint64())
	fmt.Fprintf(b, `"url":"https://upload.wikimedia.org/wikipedia/commons/%x/%02x/File_%d.jpg","descriptionurl":"https://commons.wikimedia.org/wiki/File:%d.jpg",`,
		r.IntN(16), r.IntN(256), i, i)
	fmt.Fprintf(b, `"extmetadata":{"Artist":{"value":"%s %s","source":"commons-desc-page","hidden":""},"LicenseShortName":{"value":"%s","source":"commons-desc-page","hidden":""},"ImageDescription":{"value":"%s","source":"commons-desc-page"},"Copyrighted":{"value":"%t"},"AttributionRequired":{"value":%t},"Restrictions":{"value":null}}},`,
		word(), word(), pick(benchLicenses), phrase(), r.IntN(2) == 0, r.IntN(2) == 0)
	fmt.Fprintf(b, `"coordinates":[{"lat":%.6f,"lon":%.6f,"primary":true,"globe":"earth","dim":%d}],`,
		r.Float64()*180-90, r.Float64()*360-180, r.IntN(10000))
	fmt.Fprintf(b, `"quality":%t,"featured":false,"restrictions":null,"score":%.4e,"revisions":[`, r.IntN(4) == 0, r.Float64()*1e6)
	for j := range 2 + r.IntN(3) {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, `{"revid":%d,"parentid":%d,"minor":%t,"user":"%s","comment":"%s","tags":["mobile edit","%s"]}`,
			r.IntN(900_000_000), r.IntN(900_000_000), r.IntN(2) == 0, word(), phrase(), word())
	}
	b.WriteString(`]}`)
}

func BenchmarkSkip(b *testing.B) {
	body := mgetAnswer()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if end, err := Skip(body, 0); err != nil || end != len(body) {
			b.Fatalf("Skip: %d %v", end, err)
		}
	}
}

// BenchmarkMget reads an answer as the job reads one: a validating walk
// over the whole body, then trusted walks over each entry for its _id,
// found and _source.
func BenchmarkMget(b *testing.B) {
	body := mgetAnswer()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n, size := 0, 0
		_, err := Members(body, 0, func(key, value []byte) error {
			if string(key) != "docs" {
				return nil
			}
			_, err := ElementsTrusted(value, 0, func(entry []byte) error {
				n++
				_, err := MembersTrusted(entry, 0, func(k, v []byte) error {
					if string(k) == "_source" {
						size += len(v)
					}
					return nil
				})
				return err
			})
			return err
		})
		if err != nil || n != 1000 || size == 0 {
			b.Fatalf("Members: %d documents, %v", n, err)
		}
	}
}
