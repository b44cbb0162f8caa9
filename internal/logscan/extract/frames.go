package extract

import (
	"regexp"
	"strconv"
	"strings"
)

var pythonInstallLib = regexp.MustCompile(`(?:^|/)(?:python\d*|anaconda\d*|miniconda\d*|miniforge\d*)/(?:envs/[^/]+/)?lib/`)

// airflowPackages are the directories of Airflow's own package; a path
// with "/airflow/<one of these>/" is Airflow internals (a source checkout or
// an image that does not install into site-packages), while "/airflow/dags/"
// is the user's.
var airflowPackages = []string{
	"models", "operators", "providers", "utils", "sdk", "task", "jobs", "hooks", "sensors",
	"executors", "api", "api_fastapi", "cli", "serialization", "decorators", "execution_time",
	"timetables", "triggers", "listeners", "dag_processing", "io", "callbacks", "www",
}

// isUserPythonFile applies the Python half of the user-code rule.
func isUserPythonFile(file string) bool {
	f := strings.ToLower(strings.ReplaceAll(file, `\`, "/"))
	switch {
	case f == "", strings.HasPrefix(f, "<frozen"), f == "<string>", strings.HasPrefix(f, "<decorator-gen"),
		strings.HasPrefix(f, "<__array_function__"):
		return false
	case strings.Contains(f, "site-packages/"), strings.Contains(f, "dist-packages/"):
		return false
	case strings.Contains(f, "/lib/python3") || strings.Contains(f, "/lib/python2") ||
		strings.Contains(f, "/lib64/python3") || strings.HasPrefix(f, "lib/python3"):
		return false // the standard library
	}
	if i := strings.LastIndex(f, "/airflow/"); i >= 0 {
		rest := f[i+len("/airflow/"):]
		for _, p := range airflowPackages {
			if strings.HasPrefix(rest, p+"/") {
				return false
			}
		}
		if rest == "exceptions.py" || rest == "configuration.py" || rest == "settings.py" {
			return false
		}
	}
	// A standard library outside lib/pythonX.Y (Windows and conda):
	// C:\Python311\Lib\json\decoder.py, …\anaconda3\lib\http\client.py.
	return !pythonInstallLib.MatchString(f)
}

// javaLibraryPrefixes are class-name prefixes of JDK, Scala, big-data,
// driver and SDK code: frames in them are not user code.
var javaLibraryPrefixes = []string{
	"java.", "javax.", "jdk.", "sun.", "com.sun.", "scala.", "akka.", "kotlin.", "kotlinx.",
	"org.apache.spark.", "org.apache.hadoop.", "org.apache.hive.", "org.apache.kafka.",
	"org.apache.flink.", "org.apache.beam.", "org.apache.parquet.", "org.apache.avro.",
	"org.apache.iceberg.", "org.apache.hudi.", "org.apache.commons.", "org.apache.http.",
	"org.apache.zookeeper.", "org.apache.thrift.", "org.apache.orc.", "org.apache.calcite.",
	"io.delta.", "com.databricks.", "io.netty.", "io.grpc.", "okhttp3.", "com.google.",
	"com.amazonaws.", "software.amazon.", "com.microsoft.azure.", "com.azure.", "org.postgresql.",
	"net.snowflake.", "com.mysql.", "org.mariadb.", "oracle.jdbc.", "com.zaxxer.", "org.hibernate.",
	"org.springframework.", "org.eclipse.jetty.", "org.glassfish.", "com.fasterxml.", "org.slf4j.",
	"ch.qos.logback.", "org.apache.logging.", "py4j.", "sbt.", "org.scalatest.", "org.junit.",
	"org.gradle.", "io.airbyte.commons.", "reactor.", "io.reactivex.", "com.typesafe.",
}

func isUserJavaFunction(fn string) bool {
	for _, p := range javaLibraryPrefixes {
		if strings.HasPrefix(fn, p) {
			return false
		}
	}
	return fn != ""
}

// setFrames stores frames on c, marks the user frame nearest the failure
// (the last printed when nearestLast, as Python prints, else the first) and
// caps them at MaxFrames, keeping the frames nearest the failure and that
// user frame.
func setFrames(c *cand, frames []Frame, nearestLast bool) {
	if len(frames) == 0 {
		return
	}
	user := -1
	for i := range frames {
		k := i
		if nearestLast {
			k = len(frames) - 1 - i
		}
		if frames[k].User {
			user = k
			break
		}
	}
	if len(frames) > MaxFrames {
		omitted := len(frames) - MaxFrames
		var kept []Frame
		if nearestLast {
			kept = append(kept, frames[len(frames)-MaxFrames:]...)
			if user >= 0 && user < len(frames)-MaxFrames {
				kept[0], user = frames[user], 0
			} else if user >= 0 {
				user -= len(frames) - MaxFrames
			}
		} else {
			kept = append(kept, frames[:MaxFrames]...)
			if user >= MaxFrames {
				kept[MaxFrames-1], user = frames[user], MaxFrames-1
			}
		}
		frames = kept
		c.detail("frames_omitted", strconv.Itoa(omitted))
	}
	c.Frames = frames
	c.FirstUserFrame = nil
	if user >= 0 {
		c.FirstUserFrame = &c.Frames[user]
	}
}

// userFrame returns a copy of the user frame nearest the failure, or nil.
func userFrame(frames []Frame, nearestLast bool) *Frame {
	for i := range frames {
		k := i
		if nearestLast {
			k = len(frames) - 1 - i
		}
		if frames[k].User {
			f := frames[k]
			return &f
		}
	}
	return nil
}

// finishFrames caps the chain of a finished block at MaxChain, keeping the
// outermost and the innermost causes.
func finishFrames(b *Block) {
	if len(b.Chain) > MaxChain {
		half := MaxChain / 2
		omitted := len(b.Chain) - MaxChain
		chain := append(append([]Cause(nil), b.Chain[:half]...), b.Chain[len(b.Chain)-half:]...)
		b.Chain = chain
		if b.Details == nil {
			b.Details = map[string]string{}
		}
		b.Details["chain_omitted"] = strconv.Itoa(omitted)
	}
}
